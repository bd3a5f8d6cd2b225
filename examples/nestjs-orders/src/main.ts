import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  // SIGTERM and Ctrl-C close the application: handlers drain, then the bus disconnects.
  app.enableShutdownHooks();
  await app.listen(process.env.PORT ?? 3000, process.env.HOST ?? '127.0.0.1');
  Logger.log(`listening on ${await app.getUrl()}`, 'Bootstrap');
}

void bootstrap();
