import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ChatController } from './chat.controller';
import { RelayModule } from './relay.module';

@Module({ imports: [RelayModule], controllers: [ChatController] })
class AppModule {}

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks(); // SIGTERM runs RelayModule.onApplicationShutdown: the relay stops, Redis closes
  await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
  process.stdout.write(`listening ${new URL(await app.getUrl()).port}\n`);
}

void bootstrap();
