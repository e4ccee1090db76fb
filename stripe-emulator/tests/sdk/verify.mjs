// Verifies a webhook the emulator delivered, using the official Stripe SDK.
// Usage: node verify.mjs <payload-file> <stripe-signature-header> <whsec_secret>
// Prints the event id and type on success; exits 1 with the SDK's message on failure.
import { readFileSync } from "node:fs";
import Stripe from "stripe";

const [payloadFile, signature, secret] = process.argv.slice(2);
if (!payloadFile || !signature || !secret) {
  console.error("usage: node verify.mjs <payload-file> <signature-header> <secret>");
  process.exit(2);
}
const payload = readFileSync(payloadFile, "utf8");
const stripe = new Stripe("sk_test_unused");
try {
  const event = stripe.webhooks.constructEvent(payload, signature, secret);
  console.log(JSON.stringify({ ok: true, id: event.id, type: event.type }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err && err.message) }));
  process.exit(1);
}
