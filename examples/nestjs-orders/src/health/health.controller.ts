import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { TidingsHealthIndicator } from '@tidings/nestjs';

/** GET /health: 200 while the broker is connected and every handler's subscription runs, else 503. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly tidings: TidingsHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.tidings.isHealthy('broker')]);
  }
}
