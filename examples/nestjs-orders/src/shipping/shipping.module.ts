import { Module } from '@nestjs/common';
import { ShippingHandlers } from './shipping.handlers';

@Module({ providers: [ShippingHandlers] })
export class ShippingModule {}
