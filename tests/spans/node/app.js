// The span capture app on @sentry/node (Express 5, the OpenAI client): the routes, planted
// values and company attribution of the Django app (tests/spans/app), for
// capture_spans.py --runs node. No database or cache (Node 20 has no built-in SQLite); the
// document store is a Map. Prints "LISTENING <port>"; GET /__flush__ calls Sentry.flush().
const Sentry = require("@sentry/node");

Sentry.init({
  dsn: process.env.SENTRY_DSN,
  tracesSampleRate: 1.0,
  enableLogs: true,
  sendDefaultPii: true,
  release: "dms-assistant@4.2.0",
  environment: "production",
  // The harness's flush call is not the app's traffic.
  integrations: [Sentry.httpIntegration({ ignoreIncomingRequests: (url) => url.startsWith("/__flush__") })],
});

const express = require("express");
const OpenAI = require("openai");
const { canaries, COMPANY_ID, USER_ID } = JSON.parse(process.env.DMS_PLANTED);

const members = new Map([[canaries.api_token, { id: USER_ID, companyId: COMPANY_ID }]]);
const documents = new Map([[canaries.doc_slug, { title: canaries.doc_title, body: canaries.doc_body }]]);
const llm = new OpenAI({ baseURL: process.env.DMS_LLM_BASE_URL, apiKey: process.env.DMS_LLM_API_KEY });

const app = express();
app.use(express.json());
app.use(express.urlencoded({ extended: false }));

// Who is calling, and the company set the way the proxy's docs say: the tag for events,
// the attribute for streamed spans, logs and metrics.
app.use((req, res, next) => {
  const member = members.get(req.get("X-Api-Token") || "");
  if (!member) return res.status(401).json({ detail: "invalid token" });
  req.member = member;
  Sentry.setTag("company_id", member.companyId);
  Sentry.setAttribute("company_id", member.companyId);
  Sentry.setUser({ id: member.id, email: canaries.user_email, username: canaries.username });
  next();
});

app.get("/companies/:companyId/documents/:slug/", (req, res) => {
  const doc = documents.get(req.params.slug);
  if (!doc) return res.status(404).json({ detail: "no such document" });
  Sentry.logger.info(Sentry.logger.fmt`document ${doc.title} opened by ${canaries.user_email}`);
  res.json({ slug: req.params.slug, title: doc.title });
});

app.get("/companies/:companyId/documents/", async (req, res) => {
  const q = req.query.q || "";
  const url = new URL(process.env.DMS_PARTNER_SEARCH_URL);
  url.searchParams.set("q", q);
  url.searchParams.set("token", process.env.DMS_PARTNER_TOKEN);
  const partner = await (await fetch(url)).json();
  Sentry.logger.info(Sentry.logger.fmt`search for ${q}: ${partner.hits.length} partner hits`);
  Sentry.metrics.count("documents.search", 1, { attributes: { source: "partner" } });
  res.json({ partner: partner.hits });
});

app.post("/api/assistant/chat/", async (req, res) => {
  const doc = documents.get(req.body.document);
  if (!doc) return res.status(404).json({ detail: "no such document" });
  Sentry.logger.warn(`assistant question from ${canaries.user_email} about ${doc.title}`);
  const draft = await llm.chat.completions.create({
    model: "gpt-4o-mini",
    temperature: 0.2,
    max_tokens: 400,
    messages: [
      { role: "system", content: `You are the document assistant of ${canaries.company_name}.` },
      { role: "user", content: `Document ${doc.title}:\n${doc.body}\n\nQuestion: ${req.body.prompt}` },
    ],
  });
  Sentry.metrics.count("assistant.questions", 1, { attributes: { topic: req.body.topic || "" } });
  Sentry.metrics.distribution("assistant.answer_tokens", draft.usage.total_tokens, { unit: "none" });
  res.json({ answer: draft.choices[0].message.content });
});

app.post("/billing/payment-method/", (req) => {
  const { holder, iban } = req.body;
  throw new Error(`payment method rejected for ${holder}: IBAN ${iban} is not a SEPA direct-debit account`);
});

Sentry.setupExpressErrorHandler(app);
app.use((err, req, res, next) => res.status(500).json({ detail: "internal error" }));

// GET /__flush__ is answered before Express, so that it makes no spans of its own.
const server = require("http").createServer((req, res) => {
  if (req.url === "/__flush__") return Sentry.flush(10000).then(() => res.end("ok"));
  app(req, res);
});
server.listen(0, "127.0.0.1", () => {
  console.log(`LISTENING ${server.address().port}`);
});
process.on("SIGTERM", async () => {
  server.close();
  await Sentry.flush(10000);
  process.exit(0);
});
