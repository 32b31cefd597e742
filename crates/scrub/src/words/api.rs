//! The words of web APIs: the path words of endpoints (hand-picked and generated from the
//! official clients of well-known services) and file extensions. They are words of code:
//! the [`Vocabulary`](super::Vocabulary) holds them, and URL path segments made of them stay.

/// Words of URL paths and identifiers that name endpoints and code, not people (compared
/// lower-case; a plural `s`, `es` or `ies` is stripped when the word itself is not here).
/// A segment made only of these words, numbers and ids stays; any other word is masked.
#[rustfmt::skip]
pub const API_WORDS: &[&str] = &[
    "about", "access", "account", "action", "activate", "activity", "add", "address",
    "admin", "agent", "aggregate", "ai", "alert", "all", "analytics", "android", "answer",
    "api", "app", "apple", "application", "apply", "approve", "archive", "article", "asset",
    "assign", "async", "attach", "attachment", "audit", "auth", "author", "authorize",
    "avatar", "backend", "backup", "balance", "basket", "batch", "beat", "bill", "billing",
    "bin", "blob", "blog", "board", "book", "booking", "bootstrap", "browse", "bucket",
    "build", "bulk", "bundle", "by", "cache", "calendar", "callback", "campaign", "cancel",
    "card", "cart", "catalog", "category", "cdn", "change", "channel", "chart", "chat",
    "check", "checkout", "child", "chunk", "claim", "class", "clean", "cleanup", "clear",
    "client", "close", "cluster", "code", "collection", "comment", "commit", "common",
    "company", "compare", "complete", "component", "compose", "config", "configuration",
    "confirm", "connect", "consent", "console", "contact", "content", "context",
    "controller", "conversation", "convert", "copy", "core", "count", "country", "coupon",
    "create", "credit", "cron", "css", "csv", "currency", "current", "customer", "cv",
    "daily", "dashboard", "data", "database", "date", "day", "db", "debug", "default",
    "delete", "delivery", "deploy", "detail", "device", "diff", "digest", "directory",
    "disable", "discount", "dispatch", "dist", "doc", "document", "domain", "done",
    "download", "draft", "edit", "email", "embed", "embedding", "enable", "endpoint",
    "entry", "error", "etc", "event", "export", "external", "favicon", "feature", "feed",
    "feedback", "fetch", "field", "file", "filter", "find", "flag", "flow", "folder",
    "font", "forgot", "form", "frontend", "function", "gateway", "generate", "get", "graph",
    "graphql", "group", "handler", "health", "healthcheck", "healthz", "help", "history",
    "home", "hook", "hourly", "html", "http", "icon", "id", "identity", "image", "img",
    "import", "inbox", "index", "info", "ingest", "init", "input", "insert", "install",
    "integration", "internal", "invite", "invoice", "ios", "issue", "item", "job", "js",
    "json", "key", "label", "lang", "language", "latest", "layout", "lib", "lib64",
    "library", "like", "limit", "line", "link", "list", "live", "livez", "load", "locale",
    "location", "lock", "log", "login", "logout", "lookup", "mail", "main", "manage",
    "manifest", "map", "mark", "me", "media", "member", "membership", "menu", "merge",
    "message", "meta", "metric", "middleware", "migrate", "mnt", "mobile", "model",
    "module", "monitor", "month", "move", "my", "name", "new", "news", "newsletter", "next",
    "node", "note", "notification", "notify", "oauth", "object", "offer", "ok", "old", "on",
    "open", "openapi", "operation", "opt", "option", "order", "org", "organization", "out",
    "output", "overview", "owner", "package", "page", "pager", "parent", "partner",
    "password", "patch", "path", "pay", "payment", "payout", "pending", "people",
    "permission", "person", "photo", "ping", "pipeline", "plan", "platform", "plugin",
    "policy", "poll", "post", "preference", "preview", "price", "pricing", "print",
    "privacy", "private", "proc", "process", "product", "profile", "project", "prompt",
    "provider", "public", "publish", "pull", "purchase", "push", "query", "queue", "quote",
    "random", "rate", "raw", "read", "readiness", "readyz", "rebuild", "receipt", "recent",
    "recommendation", "record", "recover", "redirect", "refresh", "refund", "region",
    "register", "reindex", "release", "reload", "remove", "render", "reply", "repo",
    "report", "request", "reset", "resolve", "resource", "response", "rest", "restore",
    "result", "resume", "retry", "review", "revoke", "robots", "role", "room", "root",
    "route", "rpc", "rss", "rule", "run", "save", "schedule", "schema", "scope", "script",
    "search", "secret", "section", "security", "send", "server", "service", "session",
    "set", "setting", "setup", "share", "shared", "shipping", "shop", "show", "sign",
    "signin", "signout", "signup", "site", "sitemap", "size", "slug", "snapshot", "socket",
    "source", "spec", "srv", "sse", "stage", "start", "stat", "static", "statistic",
    "status", "step", "stop", "storage", "store", "stream", "style", "submit", "subscribe",
    "subscription", "suggest", "summary", "support", "swagger", "sync", "sys", "system",
    "tag", "task", "team", "template", "tenant", "term", "test", "text", "theme", "thread",
    "thumbnail", "ticket", "timeline", "tmp", "token", "tool", "top", "topic", "track",
    "transfer", "translate", "trash", "tree", "trend", "trigger", "type", "ui",
    "unsubscribe", "update", "upload", "url", "usage", "user", "usr", "v", "validate",
    "value", "var", "vendor", "verify", "version", "video", "view", "wallet", "watch",
    "web", "webhook", "weekly", "widget", "wiki", "work", "worker", "workflow", "workspace",
    "write", "ws", "www", "xml", "year",
];

/// The path words of the endpoints that the official clients of the services SDKs
/// instrument call (OpenAI's `/v1/chat/completions`, Anthropic's `/v1/messages`, Stripe,
/// Elasticsearch's `_search`, GitHub, Slack, AWS, Google APIs …), generated by
/// `scripts/gen-api-words.py`: sorted, lower-case, one per line.
const VENDOR_API_WORDS: &str = include_str!("api_words.txt");

/// The path words of well-known API endpoints (`api_words.txt`) as a sorted list, split
/// once per process.
pub fn vendor_api_words() -> &'static [&'static str] {
    static WORDS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    WORDS.get_or_init(|| VENDOR_API_WORDS.lines().filter(|w| !w.is_empty()).collect())
}

/// File extensions whose stem is judged alone (`main.js`, `report.pdf`).
#[rustfmt::skip]
pub const FILE_EXTENSIONS: &[&str] = &[
    "js", "mjs", "cjs", "css", "map", "html", "htm", "json", "xml", "txt", "csv", "pdf",
    "png", "jpg", "jpeg", "gif", "svg", "ico", "webp", "woff", "woff2", "ttf", "php", "asp",
    "aspx", "jsp", "py", "rb", "ts", "tsx", "jsx", "wasm", "zip", "gz",
];
