// Trial app 4: an @sentry/node script with an http server at /people/:slug/cv/, a custom
// span and a custom transaction; a custom transport writes each envelope to TRIAL_OUT.
const Sentry = require("@sentry/node");
const fs = require("fs");
const path = require("path");

const PERSON = "Zephyrine Quillfeather";
const SLUG = "zephyrine-quillfeather";
const TITLE = "Quillfeather Family Memoirs";
const out = process.env.TRIAL_OUT;
fs.mkdirSync(out, { recursive: true });
let n = 0;

Sentry.init({
  dsn: "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1",
  tracesSampleRate: 1.0,
  sendDefaultPii: process.env.TRIAL_PII === "1",
  release: process.env.TRIAL_RELEASE || "hr-trial@0.3.1",
  environment: process.env.TRIAL_ENVIRONMENT || "staging",
  transport: (options) =>
    Sentry.createTransport(options, async (req) => {
      n += 1;
      fs.writeFileSync(path.join(out, `node-${String(n).padStart(3, "0")}.envelope`), req.body);
      return { statusCode: 200, headers: {} };
    }),
});
Sentry.setTag("company_id", "7");
Sentry.setUser({ id: "u-42", username: SLUG });

const http = require("http");
const server = http.createServer((req, res) => {
  Sentry.startSpan({ op: "file.upload", name: `upload doc_8c21e0 by ${PERSON}` }, () => {});
  Sentry.captureException(new Error(`no cv for ${SLUG}`));
  res.end("ok");
});

server.listen(0, "127.0.0.1", async () => {
  const { port } = server.address();
  await new Promise((resolve) => http.get(`http://127.0.0.1:${port}/people/${SLUG}/cv/?lang=en`, (r) => { r.resume(); r.on("end", resolve); }));
  await Sentry.startSpan({ op: "task", name: `reindex document ${TITLE}`, forceTransaction: true }, async () => {
    Sentry.startSpan({ op: "file.upload", name: `upload doc_8c21e0 by ${PERSON}` }, () => {});
    Sentry.startSpan({ op: "gen_ai.chat", name: `chat gpt-4o summarise ${TITLE}` }, () => {});
  });
  server.close();
  await Sentry.flush(5000);
  console.error(`node_hr.js: wrote to ${out}`);
});
