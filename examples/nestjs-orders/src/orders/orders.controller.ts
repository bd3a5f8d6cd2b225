import {
  type ArgumentsHost,
  Body,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  HttpCode,
  Param,
  Post,
  UseFilters,
} from '@nestjs/common';
import { ValidationError } from '@tidings/core';
import { type Order, OrdersService } from './orders.service';

/** A publish the contract refused is the client's mistake: 400, with what was wrong. */
@Catch(ValidationError)
export class ContractViolationFilter implements ExceptionFilter {
  catch(error: ValidationError, host: ArgumentsHost): void {
    host
      .switchToHttp()
      .getResponse<{ status(code: number): { json(body: unknown): void } }>()
      .status(400)
      .json({ statusCode: 400, message: 'invalid order', issues: error.issues });
  }
}

@Controller('orders')
@UseFilters(ContractViolationFilter)
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @HttpCode(202)
  place(@Body() body: { customerEmail: string; totalCents: number }): Promise<Order> {
    return this.orders.place(body.customerEmail, body.totalCents);
  }

  @Get(':id')
  get(@Param('id') id: string): Order {
    return this.orders.get(id);
  }
}
