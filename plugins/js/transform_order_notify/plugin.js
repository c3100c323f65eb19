// transform_order_notify — turns an order event into a chat notification.
//
// A `transform` plugin written in JavaScript with the Signalbox SDK
// (sdk/js). For each order event of a known type it returns one event
// `com.example.notification.chat` whose JSON data is a chat message
// (Slack-style `channel`, `text`, `blocks`), ready for a chat webhook;
// events of other types are dropped (returned as no event), so the rule
// can select broadly.
//
//   order.created   🛒 New order o-1001 from Ada Lovelace: 2 items, 120.50 EUR
//   order.paid      💳 Order o-1001 paid: 120.50 EUR by card
//   order.shipped   📦 Order o-1001 shipped with DHL (tracking JD0001)
//   order.returned  ↩️ Order o-1001 returned: 1 item, refund 40.00 EUR (damaged)
//   order.exchanged 🔁 Order o-1001: exchange of sku-1 for sku-2
//
// The type is matched on its last two segments, so `com.example.order.paid`
// and `order.paid` both work. Orders whose total is at least `highlight_over`
// get a `:rotating_light:` prefix and `"priority": "high"`.
//
// The output event: id `<id>.chat`, the same source and time, subject the
// channel, extension `orderid`, data `{channel, text, blocks, priority,
// order_id}`. Data that is not a JSON object, or an order without
// `order_id`, is an error: a notification about an unknown order helps
// nobody.
//
// Configuration:
//
// | key | default | meaning |
// |---|---|---|
// | `channel` | `#orders` | the chat channel |
// | `highlight_over` | `1000` | totals at or above this are flagged high priority |
import { Event, PluginError } from '@signalbox/plugin-sdk';

let channel = '#orders';
let highlightOver = 1000;

export function init(config) {
  config.expectKeys(['channel', 'highlight_over']);
  channel = config.get('channel', '#orders');
  highlightOver = config.number('highlight_over', 1000);
}

const money = (amount, currency) => `${Number(amount ?? 0).toFixed(2)} ${currency ?? 'EUR'}`;
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
const count = (items) => (items ?? []).reduce((n, i) => n + (i.qty ?? 1), 0);

const MESSAGES = {
  'order.created': (o) => `🛒 New order ${o.order_id} from ${o.customer?.name ?? 'a customer'}: ${plural(count(o.items), 'item')}, ${money(o.total, o.currency)}`,
  'order.paid': (o) => `💳 Order ${o.order_id} paid: ${money(o.total, o.currency)}${o.payment_method ? ` by ${o.payment_method}` : ''}`,
  'order.shipped': (o) => `📦 Order ${o.order_id} shipped${o.carrier ? ` with ${o.carrier}` : ''}${o.tracking ? ` (tracking ${o.tracking})` : ''}`,
  'order.returned': (o) => `↩️ Order ${o.order_id} returned: ${plural(count(o.items), 'item')}, refund ${money(o.refund ?? o.total, o.currency)}${o.reason ? ` (${o.reason})` : ''}`,
  'order.exchanged': (o) => `🔁 Order ${o.order_id}: exchange of ${o.exchange?.from ?? '?'} for ${o.exchange?.to ?? '?'}`,
};

export function transform(event) {
  const kind = event.type.split('.').slice(-2).join('.');
  const message = MESSAGES[kind];
  if (!message) return null;
  const order = event.dataJson();
  if (order === null || typeof order !== 'object' || Array.isArray(order)) {
    throw new PluginError(`event ${event.id}: data must be a JSON object describing the order`);
  }
  if (!order.order_id) throw new PluginError(`event ${event.id}: data has no order_id`);
  const high = Number(order.total ?? 0) >= highlightOver;
  const text = `${high ? ':rotating_light: ' : ''}${message(order)}`;
  return new Event({
    id: `${event.id}.chat`,
    source: event.source,
    type: 'com.example.notification.chat',
    subject: channel,
    time: event.time,
    extensions: { orderid: String(order.order_id) },
    json: {
      channel,
      text,
      priority: high ? 'high' : 'normal',
      order_id: order.order_id,
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }],
    },
  });
}
