import { Module } from '@nestjs/common';
import { EmailHandlers } from './email.handlers';
import { MailerService } from './mailer.service';

@Module({ providers: [MailerService, EmailHandlers] })
export class NotificationsModule {}
