"""Personal data: found with Presidio on the bundled spaCy model, replaced before it is stored or sent away.

- `Redactor.redact`: "<EMAIL_ADDRESS>", "<PERSON>"... in place of what it finds: for the audit trail, the logs and
  stored feedback (privacy.redact).
- `Redactor.pseudonymize` / `restore`: "<PERSON_1>" stays the same person across a request's messages, so a
  remote LLM can still answer, and the answer gets the real values back (llm.redact_pii, `RedactingChatModel`).

Presidio's default configuration names `en_core_web_lg` and downloads it; here the engine is built from
`privacy.spacy_model` (installed from PyPI) and nothing is fetched: the e-mail recognizer's public-suffix lookup
(tldextract, still used by the URL recognizer) is pointed at the snapshot the package ships, and e-mail addresses
count whatever their domain (internal ones like corp.local included).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from configs.errors import ModelUnavailable
from configs.settings import PrivacySettings
from serving.llm.protocol import ChatModel, Message, TokenUsage, ToolChatModel, ToolReply, supports_tools

logger = logging.getLogger(__name__)

# National identity numbers Presidio recognises in other languages' registries, enabled for English text too.
_EXTRA = {
    "UK_NINO": "UkNinoRecognizer",
    "DE_TAX_ID": "DeTaxIdRecognizer",
    "ES_NIF": "EsNifRecognizer",
    "IT_FISCAL_CODE": "ItFiscalCodeRecognizer",
}
_PLACEHOLDER = re.compile(r"<([A-Z_]+)_(\d+)>")
# Process-wide on purpose: an analyzer takes seconds and a spaCy model's memory to load and is read-only once built,
# so every Redactor in a process (several in-process apps in a test run, eval's PII suite) shares one per configuration.
_ENGINES: dict[tuple[str, tuple[str, ...]], Any] = {}
_ENGINES_LOCK = threading.Lock()


class Redactor:
    """Thread-safe; the analyzer (spaCy model and recognizers, a few seconds) loads on first use or `warm()`."""

    def __init__(self, settings: PrivacySettings) -> None:
        self.settings = settings
        self._analyzer: Any = None

    def warm(self) -> None:
        self._engine()

    def _engine(self) -> Any:
        if self._analyzer is None:
            key = (self.settings.spacy_model, tuple(sorted(self.settings.entities)))
            with _ENGINES_LOCK:  # one loaded analyzer per process and configuration (it is read-only once built)
                if key not in _ENGINES:
                    _ENGINES[key] = self._build()
                self._analyzer = _ENGINES[key]
        return self._analyzer

    def _build(self) -> Any:
        try:
            import tldextract
            from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
            from presidio_analyzer import predefined_recognizers as recognizers
            from presidio_analyzer.nlp_engine import NlpEngineProvider
        except ImportError as exc:
            raise ModelUnavailable("presidio is not installed; run `make setup`") from exc
        # Its start-up chatter (recognizers for other languages skipped) is not the operator's concern.
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
        # No download at run time: the public suffix list from the package's own snapshot.
        tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
        config = {
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": self.settings.spacy_model}],
            # Presidio's own mapping of spaCy labels, with the labels it does not map ignored (else each one logs
            # a warning per text).
            "ner_model_configuration": {
                "model_to_presidio_entity_mapping": {
                    "PER": "PERSON",
                    "PERSON": "PERSON",
                    "NORP": "NRP",
                    "FAC": "LOCATION",
                    "LOC": "LOCATION",
                    "GPE": "LOCATION",
                    "ORG": "ORGANIZATION",
                    "DATE": "DATE_TIME",
                    "TIME": "DATE_TIME",
                },
                "low_confidence_score_multiplier": 0.4,
                "labels_to_ignore": [
                    "ORGANIZATION",
                    "CARDINAL",
                    "EVENT",
                    "LANGUAGE",
                    "LAW",
                    "MONEY",
                    "ORDINAL",
                    "PERCENT",
                    "PRODUCT",
                    "QUANTITY",
                    "WORK_OF_ART",
                ],
            },
        }
        try:
            nlp = NlpEngineProvider(nlp_configuration=config).create_engine()
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(
                f"the spaCy model {self.settings.spacy_model!r} is not installed ({exc}); run `make setup` or set "
                "privacy.spacy_model"
            ) from exc
        registry = RecognizerRegistry(supported_languages=["en"])
        registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)

        class AnyDomainEmail(recognizers.EmailRecognizer):  # type: ignore[misc]
            """Presidio drops addresses whose domain is not a public suffix; internal ones (corp.local,
            northwind.example) are personal data all the same."""

            def validate_result(self, pattern_text: str) -> None:
                return None

        registry.remove_recognizer("EmailRecognizer")
        registry.add_recognizer(AnyDomainEmail(supported_language="en"))
        for entity, name in _EXTRA.items():
            if entity in self.settings.entities:
                registry.add_recognizer(getattr(recognizers, name)(supported_language="en"))
        return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, entity) of the configured entities, overlaps resolved (longest, then most certain)."""
        if not text.strip():
            return []
        results = self._engine().analyze(
            text, language="en", entities=list(self.settings.entities), score_threshold=self.settings.min_score
        )
        spans: list[tuple[int, int, str]] = []
        for r in sorted(results, key=lambda r: (-(r.end - r.start), -r.score, r.start)):
            if all(r.end <= s or r.start >= e for s, e, _ in spans):
                spans.append((r.start, r.end, r.entity_type))
        return sorted(spans)

    def redact(self, text: str) -> str:
        """The text with each piece of personal data replaced by its type, e.g. <PHONE_NUMBER>."""
        out, pos = [], 0
        for start, end, entity in self.find(text):
            out += [text[pos:start], f"<{entity}>"]
            pos = end
        return "".join(out) + text[pos:]

    def pseudonymize(self, texts: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        """The texts with consistent placeholders (<PERSON_1> is the same value everywhere), and the mapping back."""
        numbers: dict[tuple[str, str], str] = {}
        back: dict[str, str] = {}
        out = []
        for text in texts:
            parts, pos = [], 0
            for start, end, entity in self.find(text):
                value = text[start:end]
                key = (entity, value)
                if key not in numbers:
                    n = sum(1 for e, _ in numbers if e == entity) + 1
                    numbers[key] = f"<{entity}_{n}>"
                    back[numbers[key]] = value
                parts += [text[pos:start], numbers[key]]
                pos = end
            out.append("".join(parts) + text[pos:])
        return out, back

    @staticmethod
    def restore(text: str, mapping: dict[str, str]) -> str:
        return _PLACEHOLDER.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


class RedactingChatModel:
    """A ChatModel that sends placeholders instead of personal data and streams the real values back."""

    def __init__(self, inner: ChatModel, redactor: Redactor) -> None:
        self.inner = inner
        self.redactor = redactor
        self.name = inner.name

    def pseudonymized(self, messages: Sequence[Message]) -> tuple[list[Message], dict[str, str]]:
        """The messages with placeholders in every text the model reads: each content, and the arguments of the
        tool calls an assistant message carries (an action's report repeats the call it made), with the mapping
        back to the real values."""
        given: list[dict[str, Any]] = [dict(m) for m in messages]  # an action's turns carry tool_calls lists too
        texts: list[str] = []
        for m in given:
            texts.append(m.get("content") or "")
            texts += [str((c.get("function") or {}).get("arguments") or "") for c in m.get("tool_calls") or []]
        replaced, mapping = self.redactor.pseudonymize(texts)
        # a value found in one text is replaced in all: a name the analyzer misses in a call's JSON arguments
        # (no sentence around it) is the same person it found in the question
        for placeholder, value in sorted(mapping.items(), key=lambda pv: -len(pv[1])):
            replaced = [t.replace(value, placeholder) for t in replaced]
        shown = iter(replaced)
        sent: list[Message] = []
        for m in given:
            out = {**m, "content": next(shown)}
            if m.get("tool_calls"):
                out["tool_calls"] = [
                    {**c, "function": {**(c.get("function") or {}), "arguments": next(shown)}} for c in m["tool_calls"]
                ]
            sent.append(out)
        return sent, mapping

    def stream(
        self, messages: Sequence[Message], max_tokens: int, temperature: float, usage: TokenUsage | None = None
    ) -> Iterator[str]:
        sent, mapping = self.pseudonymized(messages)
        held = ""
        for piece in self.inner.stream(sent, max_tokens, temperature, usage):
            held += piece
            # A placeholder may arrive in pieces ("<PER", "SON_1>"): hold back an unclosed "<" at the end.
            cut = held.rfind("<")
            if cut == -1 or ">" in held[cut:] or len(held) - cut > 40:
                yield self.redactor.restore(held, mapping)
                held = ""
            elif cut > 0:
                yield self.redactor.restore(held[:cut], mapping)
                held = held[cut:]
        if held:
            yield self.redactor.restore(held, mapping)


class RedactingToolChatModel(RedactingChatModel):
    """RedactingChatModel over a model that can be offered tools: a tool turn sends placeholders too, and the
    reply's text and each call's arguments get the real values back (the action runs with what the user gave)."""

    inner: ToolChatModel

    def __init__(self, inner: ToolChatModel, redactor: Redactor) -> None:
        super().__init__(inner, redactor)

    def tool_round(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        tool_choice: str | dict[str, Any],
        max_tokens: int,
        usage: TokenUsage | None = None,
    ) -> ToolReply:
        sent, mapping = self.pseudonymized(messages)
        reply = self.inner.tool_round(sent, tools, tool_choice, max_tokens, usage)
        calls = tuple(replace(c, arguments=self.redactor.restore(c.arguments, mapping)) for c in reply.calls)
        return ToolReply(self.redactor.restore(reply.content, mapping), calls)


def redacting(inner: ChatModel, redactor: Redactor) -> RedactingChatModel:
    """The model behind placeholders; one that can be offered tools still can (actions stay on)."""
    if supports_tools(inner):
        return RedactingToolChatModel(inner, redactor)
    return RedactingChatModel(inner, redactor)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (installed on the entry point's handlers)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(("presidio", "spacy", "tldextract")):
            return True  # the redactor's own libraries: redacting their records would recurse
        try:
            message = record.getMessage()
            # Percent-encoded text (a URL in the access log) is redacted as it reads: decoded.
            redacted = self.redactor.redact(unquote(message) if "%" in message else message)
            if record.exc_info and not record.exc_text:  # a traceback can quote a question too
                record.exc_text = self.redactor.redact(logging.Formatter().formatException(record.exc_info))
        except Exception:  # the line is kept, its text is not: it may hold what could not be redacted
            record.msg, record.args, record.exc_info, record.exc_text = (
                "[withheld: PII redaction failed]",
                None,
                None,
                None,
            )
            return True
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
