#!/usr/bin/env bash
# Makes sure the brokers and the database the tests talk to are up: PostgreSQL, Redis, RabbitMQ and
# NATS (with JetStream) are installed on the project's machines and normally already running;
# this starts any that is not, with the machine's own start commands, and waits until it answers.
# Kafka has a script of its own: tools/kafka/kafka.sh.
set -euo pipefail

say() { echo "services: $*"; }

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name port seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    if answers "$2"; then return 0; fi
    sleep 0.1
  done
  say "$1 did not answer on 127.0.0.1:$2 within $3 s" >&2
  return 1
}

ensure() { # name port seconds start-command...
  local name=$1 port=$2 seconds=$3
  shift 3
  if answers "$port"; then
    say "$name is up on $port"
    return 0
  fi
  say "$name is down; starting it"
  "$@" || { say "could not start $name" >&2; return 1; }
  wait_for "$name" "$port" "$seconds"
  say "$name is up on $port"
}

start_postgres() { pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start; }
start_redis() {
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
}
start_rabbitmq() { rabbitmq-server -detached; }
start_nats() {
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
}

ensure PostgreSQL 5432 60 start_postgres
ensure Redis 6379 30 start_redis
ensure RabbitMQ 5672 120 start_rabbitmq
ensure NATS 4222 30 start_nats
