// What Lago does with customers, plans and subscriptions, kept in memory.
// Handlers get an already contract-checked request and return {status, body}.
import { randomUUID } from 'node:crypto';

// Payment providers Lago can charge through (billing_configuration.payment_provider
// and the payment-provider integrations). Our app mirrors only: it must never
// give a customer one, or Lago would charge the customer a second time.
export const PAYMENT_PROVIDERS = new Set([
  'stripe', 'adyen', 'gocardless', 'cashfree', 'moneyhash', 'flutterwave',
]);

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export const notFound = (thing) => ({
  status: 404, body: { status: 404, error: 'Not Found', code: `${thing}_not_found` },
});
export const validationError = (details) => ({
  status: 422,
  body: { status: 422, error: 'Unprocessable Entity', code: 'validation_errors', error_details: details },
});
const ok = (body) => ({ status: 200, body });

const CUSTOMER_FIELDS = [
  'address_line1', 'address_line2', 'city', 'country', 'currency', 'email', 'legal_name',
  'legal_number', 'logo_url', 'name', 'firstname', 'lastname', 'customer_type', 'phone', 'state',
  'tax_identification_number', 'timezone', 'url', 'zipcode', 'net_payment_term',
];
const PLAN_FIELDS = [
  'name', 'invoice_display_name', 'code', 'interval', 'description', 'amount_cents', 'amount_currency',
  'trial_period', 'pay_in_advance', 'bill_charges_monthly', 'bill_fixed_charges_monthly',
];

function paginate(items, query, key) {
  const perPage = Math.max(1, query.per_page || 20);
  const page = Math.max(1, query.page || 1);
  const totalPages = Math.max(1, Math.ceil(items.length / perPage));
  return {
    [key]: items.slice((page - 1) * perPage, page * perPage),
    meta: {
      current_page: page,
      next_page: page < totalPages ? page + 1 : null,
      prev_page: page > 1 ? page - 1 : null,
      total_pages: totalPages,
      total_count: items.length,
    },
  };
}

// The billing period containing `at`, as Lago computes it for calendar
// billing (period boundaries on the calendar) or anniversary billing
// (boundaries on the subscription date).
export function billingPeriod(interval, billingTime, anchorIso, at = new Date()) {
  const months = { monthly: 1, quarterly: 3, semiannual: 6, yearly: 12 }[interval];
  const anchor = new Date(anchorIso);
  const day = 86_400_000;
  let start;
  let end;
  if (interval === 'weekly') {
    const base = billingTime === 'anniversary' ? anchor : new Date(Date.UTC(1970, 0, 5)); // a Monday
    const weeks = Math.floor((at - base) / (7 * day));
    start = new Date(base.getTime() + weeks * 7 * day);
    end = new Date(start.getTime() + 7 * day);
  } else {
    const base = billingTime === 'anniversary' ? anchor : new Date(Date.UTC(at.getUTCFullYear(), 0, 1));
    // n months after base, on the same day of month or the month's last day
    // (an anniversary on the 31st falls on 28/29 February), same time of day.
    const add = (n) => {
      const first = new Date(Date.UTC(base.getUTCFullYear(), base.getUTCMonth() + n, 1));
      const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
      first.setUTCDate(Math.min(base.getUTCDate(), last));
      return new Date(first.getTime() + (base.getTime() % 86_400_000));
    };
    let n = Math.floor(((at.getUTCFullYear() - base.getUTCFullYear()) * 12 + at.getUTCMonth() - base.getUTCMonth()) / months) * months;
    if (add(n) > at) n -= months;
    start = add(n);
    end = add(n + months);
  }
  if (billingTime !== 'anniversary') start = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()));
  const iso = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { started_at: iso(start), ending_at: iso(new Date(end.getTime() - 1000)) };
}

export class LagoState {
  constructor() {
    this.reset();
  }

  reset() {
    this.customers = new Map(); // external_id -> record
    this.plans = new Map(); // lago_id -> record
    this.subscriptions = []; // every subscription record ever, oldest first
    this.events = []; // subscription history: created, plan_changed, terminated, canceled
    this.sequence = 0;
  }

  planByCode(code) {
    return [...this.plans.values()].find((p) => p.code === code);
  }

  // ---- customers ------------------------------------------------------------

  upsertCustomer(input) {
    const existing = this.customers.get(input.external_id);
    const c = existing || {
      lago_id: randomUUID(),
      sequential_id: (this.sequence += 1),
      external_id: input.external_id,
      created_at: now(),
      account_type: 'customer',
      finalize_zero_amount_invoice: 'inherit',
      skip_invoice_custom_sections: false,
      metadata: [],
      integration_customers: [],
    };
    c.slug = `CUST-${String(c.sequential_id).padStart(4, '0')}`;
    for (const f of CUSTOMER_FIELDS) if (f in input) c[f] = input[f];
    if (input.account_type) c.account_type = input.account_type;
    if (input.billing_entity_code) c.billing_entity_code = input.billing_entity_code;
    if (input.finalize_zero_amount_invoice) c.finalize_zero_amount_invoice = input.finalize_zero_amount_invoice;
    if ('skip_invoice_custom_sections' in input) c.skip_invoice_custom_sections = input.skip_invoice_custom_sections;
    if (input.billing_configuration) {
      c.billing_configuration = { ...c.billing_configuration, ...input.billing_configuration };
    }
    if (input.shipping_address) c.shipping_address = input.shipping_address;
    if (input.metadata) {
      c.metadata = input.metadata.map((m) => ({
        lago_id: m.id || randomUUID(), key: m.key, value: m.value,
        display_in_invoice: m.display_in_invoice, created_at: now(),
      }));
    }
    if (input.integration_customers) {
      c.integration_customers = input.integration_customers.map((i) => ({
        lago_id: i.id || randomUUID(),
        type: i.integration_type,
        integration_code: i.integration_code || i.integration_type,
        // Lago creates the record in the integration when no id is given.
        external_customer_id: i.external_customer_id || `fake_${randomUUID().slice(0, 8)}`,
        sync_with_provider: i.sync_with_provider ?? null,
        ...(i.subsidiary_id ? { subsidiary_id: i.subsidiary_id } : {}),
      }));
    }
    c.updated_at = now();
    this.customers.set(c.external_id, c);
    return c;
  }

  customerView(c) {
    const view = { ...c, applicable_timezone: c.timezone || 'UTC', taxes: [], applicable_invoice_custom_sections: [] };
    return view;
  }

  createCustomer({ body }) {
    const input = body.customer;
    if (input.tax_codes?.length) return notFound('tax'); // the fake holds no taxes
    return ok({ customer: this.customerView(this.upsertCustomer(input)) });
  }

  findCustomer({ path }) {
    const c = this.customers.get(path.external_customer_id);
    return c ? ok({ customer: this.customerView(c) }) : notFound('customer');
  }

  // ---- plans ----------------------------------------------------------------

  planInputProblems(input) {
    // The fake holds no taxes, billable metrics or add-ons, so any reference
    // to one is unknown, as it would be in an empty Lago organization.
    if (input.tax_codes?.length) return notFound('tax');
    if (input.charges?.length) return notFound('billable_metric');
    if (input.fixed_charges?.length) return notFound('add_on');
    return null;
  }

  applyPlan(p, input) {
    for (const f of PLAN_FIELDS) if (f in input) p[f] = input[f];
    if ('minimum_commitment' in input) {
      const mc = input.minimum_commitment;
      p.minimum_commitment = mc && {
        lago_id: p.minimum_commitment?.lago_id || randomUUID(),
        amount_cents: mc.amount_cents,
        ...(mc.invoice_display_name ? { invoice_display_name: mc.invoice_display_name } : {}),
        created_at: p.minimum_commitment?.created_at || now(),
      };
    }
    if (input.usage_thresholds) {
      p.usage_thresholds = input.usage_thresholds.map((t) => ({
        lago_id: randomUUID(),
        threshold_display_name: t.threshold_display_name ?? null,
        amount_cents: t.amount_cents,
        recurring: t.recurring ?? false,
        created_at: now(),
        updated_at: now(),
      }));
    }
    if ('metadata' in input) p.metadata = input.metadata;
  }

  planView(p) {
    const view = {
      lago_id: p.lago_id,
      name: p.name,
      created_at: p.created_at,
      code: p.code,
      interval: p.interval,
      amount_cents: p.amount_cents,
      amount_currency: p.amount_currency,
      trial_period: p.trial_period ?? 0,
      pay_in_advance: p.pay_in_advance,
      bill_charges_monthly: p.bill_charges_monthly ?? null,
      bill_fixed_charges_monthly: p.bill_fixed_charges_monthly ?? null,
      charges: [],
      fixed_charges: [],
      taxes: [],
      usage_thresholds: p.usage_thresholds || [],
      entitlements: [],
    };
    if (p.invoice_display_name != null) view.invoice_display_name = p.invoice_display_name;
    if (p.description != null) view.description = p.description;
    if (p.minimum_commitment) view.minimum_commitment = { ...p.minimum_commitment, plan_code: p.code, interval: p.interval };
    if (p.metadata !== undefined) view.metadata = p.metadata;
    return view;
  }

  createPlan({ body }) {
    const input = body.plan;
    if (this.planByCode(input.code)) return validationError({ code: ['value_already_exist'] });
    const problem = this.planInputProblems(input);
    if (problem) return problem;
    const p = { lago_id: randomUUID(), created_at: now() };
    this.applyPlan(p, input);
    this.plans.set(p.lago_id, p);
    return ok({ plan: this.planView(p) });
  }

  findPlan({ path }) {
    const p = this.planByCode(path.code);
    return p ? ok({ plan: this.planView(p) }) : notFound('plan');
  }

  updatePlan({ path, body }) {
    const p = this.planByCode(path.code);
    if (!p) return notFound('plan');
    const input = body.plan;
    if (input.code && input.code !== p.code && this.planByCode(input.code)) {
      return validationError({ code: ['value_already_exist'] });
    }
    const problem = this.planInputProblems(input);
    if (problem) return problem;
    this.applyPlan(p, input);
    return ok({ plan: this.planView(p) });
  }

  findAllPlans({ query }) {
    const plans = [...this.plans.values()].reverse().map((p) => this.planView(p));
    return ok(paginate(plans, query, 'plans'));
  }

  // ---- subscriptions --------------------------------------------------------

  subscriptionView(s, { extended = false } = {}) {
    const plan = this.plans.get(s.plan_id);
    const customer = [...this.customers.values()].find((c) => c.lago_id === s.lago_customer_id);
    const period = s.status === 'active'
      ? billingPeriod(plan.interval, s.billing_time, s.subscription_at)
      : { started_at: null, ending_at: null };
    const view = {
      lago_id: s.lago_id,
      external_id: s.external_id,
      lago_customer_id: s.lago_customer_id,
      external_customer_id: customer.external_id,
      billing_time: s.billing_time,
      name: s.name,
      plan_code: plan.code,
      plan_amount_cents: plan.amount_cents,
      plan_amount_currency: plan.amount_currency,
      status: s.status,
      created_at: s.created_at,
      canceled_at: s.canceled_at,
      started_at: s.started_at,
      ending_at: s.ending_at,
      subscription_at: s.subscription_at,
      terminated_at: s.terminated_at,
      previous_plan_code: s.previous_plan_code,
      next_plan_code: null,
      downgrade_plan_date: null,
      trial_ended_at: null,
      current_billing_period_started_at: period.started_at,
      current_billing_period_ending_at: period.ending_at,
      // Lago documents null for pay-in-arrears plans, but the contract's enum
      // has no null; "skip" (no credit note) says the same and validates.
      on_termination_credit_note: s.on_termination_credit_note || (plan.pay_in_advance ? 'credit' : 'skip'),
      on_termination_invoice: s.on_termination_invoice || 'generate',
      consolidate_invoice: s.consolidate_invoice,
      purchase_order_number: s.purchase_order_number,
    };
    if (s.billing_entity_code) view.billing_entity_code = s.billing_entity_code;
    if (extended) {
      view.plan = this.planView(plan);
      view.applicable_usage_thresholds = (plan.usage_thresholds || []).map((t) => ({
        threshold_display_name: t.threshold_display_name, amount_cents: t.amount_cents, recurring: t.recurring,
      }));
    }
    return view;
  }

  record(event, s, extra = {}) {
    this.events.push({
      event, at: now(), external_id: s.external_id, lago_id: s.lago_id,
      plan_code: this.plans.get(s.plan_id).code, status: s.status, ...extra,
    });
  }

  current(externalId, status = 'active') {
    return this.subscriptions.findLast((s) => s.external_id === externalId && s.status === status);
  }

  createSubscription({ body }) {
    const input = body.subscription;
    const customer = this.customers.get(input.external_customer_id);
    if (!customer) return notFound('customer');
    const plan = this.planByCode(input.plan_code);
    if (!plan) return notFound('plan');
    const existing = this.current(input.external_id) || this.current(input.external_id, 'pending');
    if (existing && existing.lago_customer_id !== customer.lago_id) {
      return validationError({ external_id: ['value_already_exist'] });
    }
    if (existing && existing.plan_id === plan.lago_id) {
      return ok({ subscription: this.subscriptionView(existing, { extended: true }) });
    }
    const at = now();
    const s = {
      lago_id: randomUUID(),
      external_id: input.external_id,
      lago_customer_id: customer.lago_id,
      plan_id: plan.lago_id,
      billing_time: input.billing_time || existing?.billing_time || 'calendar',
      name: input.name ?? existing?.name ?? null,
      created_at: at,
      canceled_at: null,
      ending_at: input.ending_at ?? null,
      terminated_at: null,
      previous_plan_code: null,
      consolidate_invoice: input.consolidate_invoice ?? true,
      purchase_order_number: input.purchase_order_number ?? null,
      billing_entity_code: input.billing_entity_code,
    };
    if (existing) {
      // Plan change (Lago's upgrade/downgrade): the old subscription ends and a
      // new one with the same external_id carries the new plan.
      const from = this.plans.get(existing.plan_id).code;
      if (existing.status === 'pending') {
        existing.status = 'canceled';
        existing.canceled_at = at;
      } else {
        existing.status = 'terminated';
        existing.terminated_at = at;
      }
      s.previous_plan_code = from;
      s.subscription_at = existing.subscription_at;
      s.status = existing.status === 'canceled' ? 'pending' : 'active';
      s.started_at = s.status === 'active' ? at : null;
      this.subscriptions.push(s);
      this.record('plan_changed', s, {
        previous_plan_code: from,
        direction: plan.amount_cents >= this.plans.get(existing.plan_id).amount_cents ? 'upgrade' : 'downgrade',
      });
    } else {
      s.subscription_at = input.subscription_at || at;
      // A subscription dated in the future waits as `pending` until then.
      s.status = new Date(s.subscription_at) > new Date() ? 'pending' : 'active';
      s.started_at = s.status === 'active' ? at : null;
      this.subscriptions.push(s);
      this.record('created', s);
    }
    return ok({ subscription: this.subscriptionView(s, { extended: true }) });
  }

  findSubscription({ path, query }) {
    const s = this.current(path.external_id, query.status || 'active');
    return s ? ok({ subscription: this.subscriptionView(s, { extended: true }) }) : notFound('subscription');
  }

  findAllSubscriptions({ query }) {
    const statuses = query['status[]'] || ['active'];
    const list = this.subscriptions
      .filter((s) => statuses.includes(s.status))
      .filter((s) => !query.external_customer_id
        || this.customers.get(query.external_customer_id)?.lago_id === s.lago_customer_id)
      .filter((s) => !query.plan_code || this.plans.get(s.plan_id).code === query.plan_code)
      .filter((s) => !query.currency || this.plans.get(s.plan_id).amount_currency === query.currency)
      .reverse()
      .map((s) => this.subscriptionView(s));
    return ok(paginate(list, query, 'subscriptions'));
  }

  destroySubscription({ path, query }) {
    // Without `status`, Lago terminates the active subscription; with
    // status=pending it cancels a pending one.
    const pending = query.status === 'pending';
    const s = this.current(path.external_id, pending ? 'pending' : 'active');
    if (!s) return notFound('subscription');
    const at = now();
    if (pending) {
      s.status = 'canceled';
      s.canceled_at = at;
    } else {
      s.status = 'terminated';
      s.terminated_at = at;
    }
    if (query.on_termination_credit_note) s.on_termination_credit_note = query.on_termination_credit_note;
    if (query.on_termination_invoice) s.on_termination_invoice = query.on_termination_invoice;
    this.record(pending ? 'canceled' : 'terminated', s);
    return ok({ subscription: this.subscriptionView(s) });
  }

  // Everything, for tests: /_fake/state.
  snapshot() {
    return {
      customers: [...this.customers.values()].map((c) => this.customerView(c)),
      plans: [...this.plans.values()].map((p) => this.planView(p)),
      subscriptions: this.subscriptions.map((s) => ({
        ...this.subscriptionView(s),
        plan_history: this.events.filter((e) => e.external_id === s.external_id).map((e) => e.plan_code)
          .filter((code, i, all) => i === 0 || all[i - 1] !== code),
      })),
      subscription_events: this.events,
    };
  }
}

// operationId -> handler name on LagoState
export const HANDLERS = {
  createCustomer: 'createCustomer',
  findCustomer: 'findCustomer',
  createPlan: 'createPlan',
  findPlan: 'findPlan',
  updatePlan: 'updatePlan',
  findAllPlans: 'findAllPlans',
  createSubscription: 'createSubscription',
  findSubscription: 'findSubscription',
  findAllSubscriptions: 'findAllSubscriptions',
  destroySubscription: 'destroySubscription',
};

// Our rule, not Lago's: the app mirrors subscriptions into Lago and must never
// give a customer a payment provider. Returns the reasons the input breaks it.
export function mirrorOnlyProblems(customerInput) {
  const problems = [];
  const bc = customerInput?.billing_configuration;
  if (bc?.payment_provider != null) {
    problems.push(`billing_configuration.payment_provider is "${bc.payment_provider}"`);
  }
  if (bc?.payment_provider_code != null) {
    problems.push(`billing_configuration.payment_provider_code is "${bc.payment_provider_code}"`);
  }
  const integrations = customerInput?.integration_customers;
  for (const [i, ic] of (Array.isArray(integrations) ? integrations : []).entries()) {
    if (PAYMENT_PROVIDERS.has(ic?.integration_type)) {
      problems.push(`integration_customers[${i}] is the payment integration "${ic.integration_type}"`);
    }
  }
  return problems;
}
