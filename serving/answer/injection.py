"""Text in a document that is addressed to an AI rather than to a reader (prompt injection), found per sentence.

Each sentence is first folded to plain lower-case Latin (NFKC; invisible and bidi controls removed; Cyrillic and
Greek look-alikes mapped to the Latin letters they imitate; accents, leet digits and letter-spacing undone), then
scored by patterns grouped by intent, in English, German, Spanish and French: addressing an AI, overriding or
forgetting its instructions, changing its role, asking for a tool call, sending data out, revealing the system
prompt, dictating the answer. A group adds its strongest match; a sentence whose sum reaches THRESHOLD is addressed
to the assistant. Weak signals (a second-person "your instructions", a hidden HTML element, obfuscated letters) only
count together with another. Measured on data/injection/labelled.jsonl by `python -m eval injection`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from retrieval.text import sentence_spans

# Chosen on the tune half of the labelled set (`python -m eval injection` prints the sweep): the lowest score at
# which no ordinary documentation sentence of that half is flagged.
THRESHOLD = 2.0

# Letters of other scripts drawn like Latin ones (a subset of Unicode's confusables.txt: the Cyrillic, Greek and
# Armenian letters a reader cannot tell apart from Latin in running text).
_CONFUSABLES = str.maketrans(
    {
        **dict(zip("аеорсхуіѕјԁһӏԛԝɡ", "aeopcxyisjdhlqwg", strict=True)),
        **dict(zip("АВСЕНІЈКМОРЅТХҮ", "ABCEHIJKMOPSTXY", strict=True)),
        **dict(zip("αεοιικνρτυχωϲ", "aeoiikvptuxwc", strict=True)),
        **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),
        **dict(zip("օսհոաց", "ouhnwg", strict=True)),
        "ı": "i",
        "ɑ": "a",
        "ǀ": "l",
        "“": '"',
        "”": '"',
        "„": '"',
        "«": '"',
        "»": '"',
        "‘": "'",
        "’": "'",
        "‚": "'",
        "`": "'",
        "´": "'",
    }
)
_LATIN = re.compile(r"[a-zA-Z]")
_OTHER_LOOKALIKE = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u0530-\u058f]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_INVISIBLE_INSIDE_WORD = re.compile(r"\w[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]+\w")
_HIDDEN_MARKUP = re.compile(
    r"<!--|\[//\]:\s*#|\[comment\]:|display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|<\w+[^>]*\shidden\b"
    r"|aria-hidden|color\s*:\s*(?:#fff\b|#ffffff|white)",
    re.IGNORECASE,
)
_LEET = str.maketrans("013457@$", "oieastas")
_LEET_TOKEN = re.compile(r"(?<![\w.])[a-z0134578@$]*[a-z][a-z0134578@$]*(?![\w])")
# Letters spaced out with one separator ("i g n o r e", "f-o-r-g-e-t", "i_g_n_o_r_e"); words keep another one.
_SPACED = re.compile(r"(?<![a-z0-9])[a-z]([ .\-*·|_/])[a-z](?:\1[a-z])+(?![a-z0-9])")
# Comment and tag syntax around hidden text: what it says is scored as if it were plain.
_MARKUP = re.compile(r"<!--|-->|<[a-z/][^>]*>|\[//\]: ?# ?\(?|\[comment\]: ?<> ?\(?")
# A phrase quoted as an example ("attackers write 'ignore previous instructions'") is mentioned, not used.
_MENTION = re.compile(
    r"\b((?:write|writes|wrote|type|types|phrases?|such as|like|e\.g\.,?|called|named|words?|strings?|text) ?:? ?)"
    r"(['\"])[^'\"]{3,80}\2"
)
_EMPHASIS = re.compile(r"(?<!\w)[*~]+|[*~]+(?!\w)|(?<![\w])_+|_+(?![\w])")


@dataclass(frozen=True)
class Folded:
    """A sentence folded for matching, and whether it was disguised (look-alikes, invisible or spaced letters)."""

    text: str
    squashed: str  # letters only, when letter-spacing was undone (else "")
    disguised: bool


def fold(sentence: str) -> Folded:
    """Plain lower-case Latin text for the patterns below."""
    disguised = bool(_INVISIBLE_INSIDE_WORD.search(sentence) or _HIDDEN_MARKUP.search(sentence))
    text = unicodedata.normalize("NFKC", sentence)
    disguised |= text != sentence and any(c.isalpha() for c in set(sentence) - set(text))  # full-width, math letters
    text = "".join(c for c in text if unicodedata.category(c) != "Cf" and c not in "\u034f\u115f\u1160\u3164\uffa0")
    disguised |= any(_LATIN.search(w) and _OTHER_LOOKALIKE.search(w) for w in _WORD.findall(text))
    text = text.translate(_CONFUSABLES)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()

    def unleet(m: re.Match[str]) -> str:
        nonlocal disguised
        token = m.group(0)
        digits = sum(c in "0134578@$" for c in token)
        if digits == 0 or len(token) < 3:
            return token
        disguised |= digits >= 2
        return token.translate(_LEET)

    text = _LEET_TOKEN.sub(unleet, text)
    squashed = ""
    if _SPACED.search(text):
        text = _SPACED.sub(lambda m: " " + re.sub(r"[^a-z]", "", m.group(0)) + " ", text)
        squashed = re.sub(r"[^a-z]", "", text)
        disguised = True
    text = _MENTION.sub(r"\1\2…\2", _EMPHASIS.sub("", _MARKUP.sub(" ", text)))
    return Folded(re.sub(r"\s+", " ", text).strip(), squashed, disguised)


# --- patterns, on folded text --------------------------------------------------------------------------------------

_AI = (
    r"(?:a\.?i\.?|k\.?i\.?|i\.?a\.?|llms?|large language models?|(?:ai |large )?language models?|chat ?bots?|chatgpt"
    r"|gpt(?:-?\d\w*)?|claude|gemini|copilots?|sprachmodell\w*|modelos? de lenguaje|modeles? de langage"
    r"|intelligences? artificielles?|inteligencia artificial|kunstliche intelligenz|(?:ai|ki|ia)(?:-\w+)?\b"
    r"|(?:ai |ia |ki-|virtual |automated |digital )?(?:assistants?|assistent\w*|asistentes?|agents?|bots?|models?"
    r"|modelos?|modeles?|crawlers?|systems?|systemen?|sistemas?|systemes?))"
)
_AI_STRONG = (
    r"\b(?:ai|a\.i\.|ki|ia|llms?|language models?|chat ?bots?|chatgpt|gpt-?\d\w*|claude|gemini|copilots?"
    r"|sprachmodell\w*|modelos? de lenguaje|modeles? de langage|ki-\w+|ia-\w+)\b"
)
# A job title or a team, not an AI: "note to the assistant manager", "for the systems administrators".
_NOT_AN_AI = (
    r"(?! (?:manager|director|professor|coach|editor|administrators?|engineers?|team|staff|teachers?|of|to|in|at)\b)"
)
_SECRET = (
    r"(?:conversation|chat(?: history| log| transcript)?|dialog(?:ue)?|(?:the )?(?:previous|prior|earlier|last|all)"  # nosec B105  # a detection pattern, not a password
    r" messages|(?:the )?user'?s?(?: \w+)? (?:question|messages?|data|e-?mail(?: address)?|name|password|input"
    r"|query|answers?|details|history)|history|api keys?|access tokens?|passwords?|credentials|secrets?"
    r"|system prompt|(?:the )?context|other documents"
    r"|(?:the )?(?:sources|documents|passages|files) you (?:retrieved|found|read|were given|received))"
)
_ANSWER = r"(?:answers?|repl(?:y|ies)|responses?|outputs?|summar(?:y|ies)|messages?)"
_ADDRESS = [
    (
        r"\b(?:note|message|notice|attention|instructions?|reminder|memo|directive|hint|warning)s? (?:to"
        rf"|for) (?:any |all |the |every |automated |other )*{_AI}\b{_NOT_AN_AI}"
    ),
    (
        r"\bif you (?:are|re) (?:an? |the )?(?:ai|llm|language model|chatbot|bot|assistant|automated|model|gpt"
        r"|machine|robot)\b"
    ),
    (
        rf"\b{_AI} (?:that |who |which )?(?:is |are )?(?:reading|processing|summari[sz]ing|ingesting|parsing"
        r"|seeing|crawling|indexing|reads|ingests|processes|sees|summari[sz]es) (?:this|these|the following|me)\b"
    ),
    (
        r"\bthis (?:paragraph|section|text|note|message|part|line|page|document) is (?:meant |intended "
        rf"|written )?(?:only )?for {_AI}\b{_NOT_AN_AI}"
    ),
    rf"^(?:dear|hey|hi|hello|attention|attn|ok|okay|listen)?,? ?{_AI_STRONG}[,:!]",
    rf"^(?:dear|hey|hi|hello|attention|attn|ok|okay|listen),? (?:the )?{_AI}\b{_NOT_AN_AI}",
    (
        r"^(?:(?:dear|hey|hi|hello|attention|attn|note|ok|okay),? )?(?:all |any |the )?(?:ai |ki-?"
        r"|ia )?(?:assistant|asistente|assistent|llm|chatbot|bot|copilot|language model|ai model"
        r"|ai system)s?(?: ia| ai| ki)?(?: (?:and|or|&|und|y|et) (?:ai |other )?(?:assistant|llm|chatbot|bot"
        r"|copilot|language model|ai model|ai system|agent|model)s?)?\s*[,:]"
    ),
    rf"\bfor (?:the )?{_AI_STRONG} (?:eyes |readers )?only\b|\bfor (?:ai|llm|bot|model|machine) eyes\b",
    r"\ban (?:alle|jede\w*|die) (?:ki\w*|sprachmodell\w*|llms?|chatbots?|assistent\w*|ki-\w+)",
    # German, Spanish, French
    (
        r"\b(?:hinweis|nachricht|achtung|anweisung(?:en)?|info|botschaft) (?:an|fur) (?:alle |die |jede\w* )?(?:ki"
        r"|k\.i\.|sprachmodell\w*|llms?|chatbots?|assistent\w*|ki-\w+)"
    ),
    r"\b(?:achtung|hallo|hey|liebe[rs]?),? (?:ki|ki-\w+|assistent\w*|chatbot|sprachmodell\w*)\b",
    r"\bwenn du (?:eine? )?(?:ki|sprachmodell|assistent|chatbot|bot)\b",
    (
        r"\b(?:nota|mensaje|aviso|atencion|instrucciones?) (?:para|a) (?:los |las |el |la |cualquier "
        r"|todos? los )?(?:sistemas? de )?(?:ia|i\.a\.|inteligencia artificial|modelos? de lenguaje|llms?"
        r"|chatbots?|asistentes?)\b"
    ),
    r"\batencion,? (?:modelo|asistente|ia|chatbot|sistema de ia)",
    r"\bsi (?:eres|tu eres) (?:una? )?(?:ia|modelo|asistente|chatbot|bot)\b",
    (
        r"\b(?:note|message|avis|attention|consignes?|instructions?) (?:aux|a l'|au|pour l'|pour les|pour le"
        r"|a tous les|a toute|a l')? ?(?:systemes? d'|modeles? de langage|ia\b|intelligences? artificielles?"
        r"|assistants?|chatbots?|llms?)"
    ),
    r"\bsi tu es (?:une? )?(?:ia|assistant|modele|chatbot|bot)\b",
]
_OVERRIDE_VERB = (
    r"(?:ignore|disregard|forget|override|overrule|bypass|skip|drop|discard|abandon|cancel|void|set aside|neglect"
    r"|circumvent|throw away|put aside|disobey|pay no (?:attention|heed) to|do not (?:follow|obey|heed|listen to)"
    r"|don'?t (?:follow|obey|heed|listen to)|stop (?:following|obeying|listening to)|no longer (?:follow|obey))"
)
_QUALIFIER = (
    r"(?:all|any|every|each|of|the|your|my|these|those|previous|prior|preceding|above|earlier|former|original"
    r"|initial|existing|current|old|given|other|system|safety|developer'?s?|default|standing|built-?in|hidden"
    r"|internal|aforementioned|foregoing|rest of the|above-mentioned|such|handbook|company|house|usual|normal"
    r"|standard|official|security|these|operator'?s?|developer'?s?|creator'?s?|assistant'?s?|model'?s?)"
)
_RULES = (
    r"(?:instructions?|rules?|prompts?|directions?|directives?|guidelines?|guidance|guardrails?|constraints?"
    r"|restrictions?|polic(?:y|ies)|programming|training|orders?|context|system (?:message|prompt)s?"
    r"|content polic(?:y|ies)|filters?|limitations?|sources?|conversation)"
)
# An order starts a clause ("Ignore ...", "... and ignore", "you must ignore"); "models ignore instructions" describes.
_CLAUSE = (
    r"(?:^|[:;,.!?(\-\"'#>\]]\s*|\b(?:and|then|please|kindly|now|just|simply|also|so|must|should|you|to|always"
    r"|immediately|first|important|urgent|et|puis|alors|maintenant|y|luego|ahora|por favor|bitte|und|jetzt)\s+)"
)
_OVERRIDE = [
    (
        rf"{_CLAUSE}{_OVERRIDE_VERB} (?:{_QUALIFIER} ){{0,4}}{_RULES}\b(?! (?:(?:for|on|about) (?!this |these "
        r"|the rest |now\b|one\b|every|any)\w|in (?:section|chapter|step|the (?:manual|guide|appendix))))"
    ),
    rf"{_CLAUSE}{_OVERRIDE_VERB} (?:the |this |their |any )?users?'?s? (?:question|request|query|prompt|message)s?\b",
    (
        rf"{_CLAUSE}{_OVERRIDE_VERB} (?:{_QUALIFIER} ){{0,3}}(?:everything|anything|all"
        r"|what(?:ever)?)(?: (?:you (?:were|have been|had been) (?:told|given|instructed|asked)|you (?:read|saw"
        r"|received|learned|got)|(?:that )?(?:was |is |has been )?(?:said|written|stated|mentioned|given"
        r"|came)))? ?(?:above|before|earlier|previously|so far|until now|up to (?:now|here)|prior|preceding"
        r"|in this conversation)"
    ),
    rf"{_CLAUSE}{_OVERRIDE_VERB} (?:(?:all )?(?:of )?the (?:above|foregoing)|the text above)(?: |$|[.,;:!]|and)",
    (
        r"\b(?:wipe|erase|clear|reset|delete|flush|remove) (?:your |the |all |previous |prior |earlier "
        r"|of )*(?:memory|context|instructions|rules|prompt|programming|directives|guidelines|guidance)\b"
    ),
    r"\bnothing (?:that )?you (?:were|have been|had been) (?:told|instructed|given|asked)\b",
    (
        r"\b(?:everything|all|anything) (?:you (?:read|saw|were told|were given|received)|(?:written|said"
        r"|stated)) (?:before|above|earlier|previously|so far)\b.{0,40}\b(?:void|invalid|obsolete|cancell?ed|null"
        r"|irrelevant|no longer|false|wrong|fake|outdated)"
    ),
    (
        rf"\b(?:your|the) (?:previous |prior |earlier |original |old )?{_RULES} (?:are|is|have been"
        r"|has been) (?:now )?(?:cancell?ed|void|revoked|obsolete|replaced|suspended|lifted|overridden"
        r"|no longer valid)"
    ),
    (
        r"\bwhatever (?:your|the) (?:developers?|creators?|operators?|programmers?|instructions|system prompt"
        r"|rules|prompt) (?:told|tell|say|said)"
    ),
    r"\b(?:new|updated|real|actual|true) (?:instructions|rules|task|objective|orders)\s*(?::|is|are)",
    # German
    (
        r"\b(?:ignorier\w*|vergiss|vergesst|vergessen sie|missacht\w*|uberspring\w*|verwirf|verwerft|umgeh\w*"
        r"|beachte \w+ \w+ nicht|befolge \w+ \w+ nicht mehr) (?:\w+ ){0,3}(?:anweisung\w*|regel\w*|vorgabe\w*"
        r"|instruktion\w*|befehl\w*|richtlinie\w*|prompt\w*|systemprompt\w*|kontext|quellen)\b"
    ),
    r"\b(?:vergiss|vergesst|ignorier\w*|verwirf) alles\b",
    r"\balles (?:oben|davor|zuvor|bisher) (?:gesagte|geschriebene|stehende)\b",
    # Spanish
    (
        rf"{_CLAUSE}(?:ignora|ignoren|ignore|olvida|olviden|omite|omita|descarta|descarte|desestima|no (?:hagas"
        r"|haga|hagan) caso (?:de|a)|no sigas|deja de seguir|anula|saltate) (?:(?:todas?|todos|las|los|tus|sus|el"
        r"|la|de|lo|cualquier|previas?|anteriores?|del|sistema|esas?|estas?) ){0,4}(?:instrucciones|reglas"
        r"|indicaciones|directrices|normas|ordenes|consignas|prompt|contexto|fuentes)\b"
    ),
    r"\b(?:olvida|olvide|ignora|ignore|descarta) todo(?: lo)? (?:anterior|lo que|que|de arriba|lo dicho)",
    # French
    (
        rf"{_CLAUSE}(?:ignore|ignorez|oublie|oubliez|neglige|negligez|ne (?:tiens|tenez) (?:pas|plus) compte"
        r"|ne suis plus|ne suivez plus|fais abstraction|faites abstraction|passe outre"
        r"|passez outre) (?:(?:toutes?|tous|les|tes|vos|la|le|l'|des?|du|aux?|precedentes?|anterieures?|systeme"
        r"|ces|ses|ci-dessus) ?){0,4}(?:instructions?|consignes?|regles?|directives?|indications|ordres|prompt"
        r"|contexte|sources?)\b"
    ),
    (
        r"\b(?:oublie|oubliez|ignore|ignorez) tout ce qui (?:precede|est (?:ecrit )?(?:ci-dessus|au-dessus"
        r"|plus haut)|a ete dit)"
    ),
]
_ROLE: list[str | tuple[float, str]] = [
    (
        r"\byou (?:are|re) (?:now|no longer|henceforth|from now on)\b(?! (?:connected|logged|signed|ready|able"
        r"|eligible|registered|enrolled|subscribed|done|finished|required|needed|allowed|permitted|obliged"
        r"|expected|responsible|authori[sz]ed|entitled|part of|set\b|all set|a member|an? (?:member|owner|admin\w*"
        r"|editor|user|participant|employee|manager)\b|on the|in the|at the|free to (?:go|leave)))"
    ),
    (
        r"\b(?:from now on|henceforth|starting now|for the rest of this conversation),? (?:you"
        r"|your)\b.{0,40}\b(?:respond|reply|answer|speak|talk|act|behave|write|say|pretend|ignore|only|always"
        r"|never|are|will be|must)\b"
    ),
    (
        r"\b(?:pretend (?:to be|you are|you're|that you)|roleplay as|role-play as|play the (?:role|part) of"
        r"|simulate being|impersonate)\b"
    ),
    r"\byour (?:new )?(?:role|persona|name|identity|task|objective|goal|purpose|mission) (?:is|will be|from now on)\b",
    (
        r"\b(?:act|behave|respond|answer|speak|talk) (?:as|like) (?:if you (?:are|were)|though you"
        r"|an? (?:unrestricted|unfiltered|uncensored|evil|jailbroken|rogue|linux|unix)|my \w+|a (?:terminal|shell"
        r"|hacker|pirate)|dan\b)"
    ),
    (
        r"\b(?:enter|switch to|activate|enable|turn on|you are in|now in|in) (?:god|jailbreak|jailbroken|dan"
        r"|unrestricted|unfiltered|uncensored|evil|no-rules?|sudo|do anything now) mode\b"
    ),
    r"\byou (?:have been|are|were|got) (?:now )?(?:jailbroken|freed|unlocked|liberated|unshackled)\b",
    r"\bassume the (?:identity|role|persona|character|voice) of\b",
    (
        r"\bbecome ['\"]?[\w -]{1,30}['\"]?,? (?:a|an|the) (?:\w+ )?(?:model|assistant|bot|ai|chatbot|persona"
        r"|version of you)\b"
    ),
    (
        r"\bbecome (?:a|an) (?:unrestricted|unfiltered|uncensored|evil|jailbroken|different|new) (?:model"
        r"|assistant|bot|ai|chatbot|persona)\b"
    ),
    (1.0, r"\b(?:speak|talk|write|answer|respond|reply) as (?:the|a|an|if|though|my|our)\b"),
    r"\byou are (?:now )?dan\b|\bdo anything now\b",
    # German, Spanish, French
    r"\bdu bist (?:jetzt|nun|ab sofort|ab jetzt|nicht mehr|von nun an)\b",
    (
        r"\b(?:ab (?:sofort|jetzt)|von nun an),? (?:antwortest|bist|sprichst|schreibst|ignorierst|tust|handelst"
        r"|verhaltst) du\b"
    ),
    r"\b(?:tu so,? als|spiel(?:e)? die rolle|gib dich als)\b",
    (
        1.0,
        r"\b(?:actua|actuad|comportate) como\b|\b(?:agis|agissez|comporte-toi) comme\b|\b(?:handle"
        r"|verhalte dich) (?:wie|als)\b",
    ),
    (
        r"\b(?:ahora eres|ya no eres|desde ahora eres|a partir de ahora,? (?:eres|seras|responde\w*|actua\w*"
        r"|habla\w*|tu|solo)|finge (?:ser|que)|haz de cuenta|interpreta el papel)\b"
    ),
    (
        r"\b(?:tu es (?:maintenant|desormais|a present)|tu n'es plus|desormais,? tu|a partir de maintenant,? tu"
        r"|dorenavant,? tu|fais semblant|joue le role)\b"
    ),
]
# Fake chat turns, role tokens and section markers that pretend the document is over or that a system speaks.
_TURN = [
    r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\|?>",
    r"\[(?:system|assistant|admin|developer|operator)\]\s*\(#",
    (
        r"^[\[(]?(?:system|system message|assistant|human|admin|developer|operator|override|admin override"
        r"|system override)[\])]?\s*:"
    ),
    r"#+ ?(?:new|updated|real|actual|system|secret|hidden) (?:task|instructions?|prompt|rules|orders)\b",
    r"\bbegin (?:admin|system|developer|override|new) (?:\w+ )?(?:instructions?|mode|prompt|message|block)\b",
    r"\bend of (?:the )?(?:document|context|text|input|sources?)\b.{0,40}\b(?:new|now|instructions?|task)\b",
    r"\b(?:priority|urgent|new|updated|real|hidden) (?:instructions|orders|directives) (?:follow|below)\b",
]
_CALL_VERB = (
    r"(?:call|invoke|trigger|execute|run|use|fire|launch|perform|make (?:a )?(?:tool|function) call to|rufe|ruf"
    r"|fuhre|starte|verwende|nutze|benutze|llama(?: a)?|invoca|ejecuta|usa|utiliza|activa|appelle|appelez|invoque"
    r"|execute|utilise|lance|declenche)"
)
_SNAKE = r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+"
_ACTION_WORD = (
    r"(?:submit|send|delete|remove|create|reset|approve|export|post|grant|transfer|e?mail|upload|update|write|share"
    r"|forward|add|drop|revoke|pay|book|cancel|purge|wipe|disable|publish|exfil\w*|web|http|url|fetch|browse|exec"
    r"|shell|run|execute|download|open|read|file)"
)
_TOOL_NAMED = re.compile(
    rf"\b{_CALL_VERB} (?:the |your |this |a |an |das |la |el |l')?(?:(?:tool|function|action|plugin|herramienta"
    rf"|funcion|outil|werkzeug|funktion) )?'?(?P<name>{_SNAKE})\b"
)
_TOOL: list[str | tuple[float, str]] = [
    _TOOL_NAMED.pattern,
    r"\b(?:tool|function) call\b|\btool ?call(?:s|ing)?\b",
    (2.0, rf"\b(?:function|tool) call ?: ?'?{_SNAKE}\("),
    (
        r"\b(?:open|start|launch|use) (?:the |your )?(?:\w+ )?(?:tool|plugin)\b.{0,40}\b(?:go to|visit|open"
        r"|fetch|browse)\b"
    ),
    (
        rf"\b{_CALL_VERB} (?:the |your |this |a |an )?(?:\w+ )?(?:tool|function|plugin|action|herramienta|outil"
        r"|werkzeug)s?\b"
    ),
]
_TOOL_ACTION = re.compile(rf"(?:^|_){_ACTION_WORD}(?:_|$)")
# Arguments given to the call: keyword arguments, or "with ...", "titled '...'".
_CALL_WITH_ARGUMENTS = re.compile(
    rf"{_SNAKE}\([^)]*\b\w+ ?=(?!>)|\b(?:with|titled|named|called|using|con|avec|mit)\b|\b(?:for|on|to) (?:every"
    r"|each|all)\b"
)
# An agent's tool named as such (not a programming language's "function"): the X tool, l'outil X, la herramienta X.
_AGENT_TOOL = re.compile(
    rf"\b(?:tool|action|plugin|herramienta|outil|werkzeug) '?{_SNAKE}\b|{_SNAKE}'? (?:tool|action|plugin)\b"
)
_SEND = (
    r"(?:send|forward|e-?mail|mail|post|upload|transmit|exfiltrate|leak|share|copy|submit|report|paste|append|add"
    r"|attach"
    r"|put|include|embed|encode|sende|schicke?|leite|ubermittle|poste|teile|envia|envie|manda|reenvia|comparte"
    r"|publica|sube|filtra|envoie|envoyez|transfere|transferez|partage|partagez|publie|copie)"
)
_EXFIL: list[str | tuple[float, str]] = [
    rf"\b{_SEND}\b (?:[\w']+ ){{0,4}}{_SECRET}\b",
    (
        r"\b(?:include|add|append|insert|put|show|display|render|embed|place) (?:this|the following|the|a"
        r"|an)? ?(?:markdown )?(?:link|url|image|pixel|hyperlink|button|tracking \w+)\b.{0,80}\b(?:in|to"
        rf"|at the end of|into|under|below) (?:your|every|each|the|all|any) (?:\w+ )?{_ANSWER}\b"
    ),
    (
        r"\b(?:at the end of|to|in|under|below) (?:your|every|each|all"
        rf"|any) (?:\w+ )?{_ANSWER},? (?:\w+ ){{0,3}}(?:add|append|include|insert|put|show) (?:this "
        r"|the following |the |a )?(?:link|url|image)"
    ),
    r"!\[[^\]]*\]\(\s*https?://[^)\s]*[?&=][^)]*\)",
    r"\b(?:markdown image|image (?:whose|with the) (?:address|url|source)|tracking pixel)\b",
    (2.0, rf"\breplace (?:every|all|each|the) (?:\w+ )?links? in (?:your|every|each|the) {_ANSWER}\b"),
    r"https?://\S*[?&][\w-]*=(?=[\s.,;:)'\"]|$)",
    r"https?://\S*[?&=]\S*\s*(?:\+|followed by|with the|plus)",
    r"\{(?:chat_?history|conversation|history|data|question|messages?|user\w*|secrets?|context)\}",
    (
        r"\b(?:tell|ask|urge|instruct) (?:the )?(?:user|reader|customer|employee)s? to (?:sign in|log ?in|enter"
        r"|verify|visit|click|go to|email|send|share|provide|confirm|type)\b"
    ),
    (
        r"\b(?:sende|schicke?|leite|teile)\b.{0,40}\b(?:chatverlauf|verlauf|unterhaltung|gesprach\w*|konversation"
        r"|nachrichten|nutzerdaten|passw\w+)"
    ),
    (
        r"\b(?:envia|manda|reenvia|comparte|publica|filtra)\b.{0,40}\b(?:conversacion|historial|chat"
        r"|mensajes del usuario|datos del usuario|contrasenas?)"
    ),
    (
        r"\b(?:envoie|transfere|partage|publie|copie)\b.{0,40}\b(?:conversation|historique|discussion"
        r"|messages de l'utilisateur|donnees de l'utilisateur|mots? de passe)"
    ),
]
_URL_OR_MAIL = re.compile(r"https?://|www\.|\b[\w.+-]+@[\w-]+\.[\w.]+")
_REVEAL = [
    (
        r"\b(?:reveal|print|show|display|output|repeat|dump|echo|leak|disclose|recite|write out|spell out|tell me"
        r"|give me|share|paste|quote|list|expose|return|provide|what (?:is|are|were))(?: me"
        r"| us)? (?:\w+ ){0,3}(?:system prompt|system message|initial prompt|original prompt|pre-?prompt|(?:hidden"
        r"|secret|internal|initial|original|system) (?:instructions|prompt|rules|message|configuration)"
        r"|your (?:\w+ )?(?:instructions|prompt|rules|guidelines|configuration|directives|system message))\b"
    ),
    (
        r"\b(?:instructions|prompt|rules) (?:that )?(?:you were given|your (?:operator|developer|creator"
        r"|owner)s? gave you|you received)\b"
    ),
    (
        r"\b(?:repeat|print|output|show|dump|quote|write out|copy) (?:all |the |everything |the text |the words "
        r"|all the text )*(?:\w+ ){0,2}(?:above|before this|written before|that was written before|preceding)\b"
    ),
    r"\bwhat (?:were|have) you (?:been )?(?:told|instructed|given)\b",
    (
        r"\b(?:reveal|print|show|display|output|repeat|dump|recite|list|quote|tell me|give me"
        r"|write out)\b.{0,40}\b(?:rules|instructions?|guidelines|directives|prompt)s? (?:that )?you (?:were"
        r"|have been|got|received)\b"
    ),
    # German, Spanish, French
    (
        r"\b(?:gib|zeig\w*|nenne|verrate|wiederhole|drucke?|schreib\w*)\b.{0,30}\b(?:system-?prompt\w*"
        r"|systemanweisung\w*|systemnachricht\w*|deine? (?:anweisungen|regeln|vorgaben|instruktionen))"
    ),
    (
        r"\b(?:muestra|muestrame|revela|imprime|repite|dime|escribe|ensena|dame)\b.{0,30}\b(?:prompt (?:del"
        r"|de) sistema|mensaje del sistema|instrucciones (?:ocultas|del sistema|iniciales|originales|secretas)"
        r"|tus (?:instrucciones|reglas|directrices))"
    ),
    (
        r"\b(?:affiche|montre|revele|repete|donne|ecris|imprime|dis)(?:-moi)?\b.{0,30}\b(?:prompt (?:du )?systeme"
        r"|message systeme|instructions (?:de ton|du|de votre) systeme|instructions (?:cachees|initiales|secretes)"
        r"|tes (?:instructions|consignes|regles))"
    ),
]
_RESPONSE: list[str | tuple[float, str]] = [
    (
        2.0,
        r"\b(?:reply|respond|answer)(?: only| just| exactly| solely) (?:with|using)(?: only)? ['\"]|\b(?:reply"
        r"|respond|answer) (?:with|using) only ['\"]|\b(?:reply|respond"
        r"|answer) with ['\"].{0,80}['\"] and nothing else",
    ),
    (1.5, r"\b(?:reply|respond|answer) (?:with|using) ['\"]"),
    (
        2.0,
        r"\b(?:begin|start|end|prefix|preface|open|close|finish) (?:every|each|all|your|the) (?:\w+ )?(?:answer"
        r"|reply|response|message|output)s? with\b",
    ),
    (
        1.5,
        r"\b(?:tell|inform|remind) (?:the )?(?:user|reader|customer|employee|people|everyone|them"
        r"|all users)s? that\b",
    ),
    (
        2.0,
        rf"\b(?:in|within) your (?:\w+ )?{_ANSWER},? (?:\w+ ){{0,2}}(?:say|state|claim|mention|write|tell|include"
        r"|add|assert)\b",
    ),
    (2.0, rf"\b(?:make sure|ensure) (?:that )?your {_ANSWER}\b"),
    (
        2.0,
        rf"\byour {_ANSWER} (?:must|should|shall|has to|will) (?:always )?(?:contain|include|end with|start with"
        r"|begin with|mention) (?:the )?(?:phrase|words?|sentence|text|string|link|url|line)\b",
    ),
    (2.0, r"\bwhen (?:you are )?asked (?:about|for|whether|if)\b.{0,60}, (?:claim|insist|pretend|deny|lie)\b"),
    (2.0, r"\b(?:the only|the correct|the right|the valid|the true) answer (?:is|to give is)\b"),
    (2.0, r"\bwhatever (?:the question|is asked|they ask|the user asks|someone asks|you are asked),"),
    (2.0, r"\bonly ever (?:say|answer|reply|respond|write)\b"),
    (
        2.0,
        r"\b(?:respond|reply|answer) to (?:every|each|all|any) (?:\w+ )?(?:questions?|requests?|messages?"
        r"|queries)\b.{0,60}\bwith ['\"]",
    ),
    (
        2.0,
        r"\bno matter (?:what|which question) (?:the user|anyone|they|someone|people|users|you are) (?:asks?|says?"
        r"|wants?|asked)\b",
    ),
    (2.0, rf"\b(?:state|say|claim|mention|write|assert) in your {_ANSWER}\b"),
    (1.5, r"\bif (?:the |a )?users? (?:asks?|asked|wants?|mentions?) (?:about|for|whether|if)\b"),
    (
        1.5,
        rf"\b(?:to|in|at the end of|under|after) (?:every|each|all) (?:\w+ )?{_ANSWER}\b|\b(?:am ende|in"
        r"|unter) (?:jeder|jede|allen) antwort\w*|\b(?:a|en) (?:cada|todas las) respuestas?\b|\b(?:a"
        r"|dans) (?:chaque|toutes les) reponses?\b",
    ),
    (
        1.5,
        r"\b(?:reply|respond|answer|say|write|output|print|state)(?: with)? (?:only|exactly|just|verbatim|solely"
        r"|nothing but|and nothing else)\b",
    ),
    (1.5, rf"\b(?:every|each|all|any|your)(?: future)? {_ANSWER} (?:must|should|shall|will|has to|have to)\b"),
    (
        1.5,
        r"\b(?:when|if|whenever) (?:someone|anyone|a user|the user|users|people|you are|you're) (?:asks?|asked"
        r"|enquires|inquires)\b.{0,60}\b(?:say|tell them|answer|respond|reply|claim|state|insist)\b",
    ),
    (1.5, r"\bwhen (?:you are )?asked (?:about|for|whether|if)\b.{0,60}, (?:say|state|answer|respond|reply|tell)\b"),
    (1.0, r"^(?:always |only |just |simply )?(?:say|claim|state|assert|insist|answer|respond|reply) (?:that|')"),
    (
        1.0,
        r"\b(?:this|the present) (?:document|page|source|text|paragraph|file|note|fuente|documento|quelle|dokument"
        r"|document) (?:supersedes|overrides|replaces|takes precedence over|is the only|anula|remplace"
        r"|ist die einzige)\b",
    ),
    (
        1.0,
        r"\b(?:cite|treat|trust|use) (?:this|it) (?:page |document |source )?(?:as|only)\b|\bonly (?:truth"
        r"|trusted source|source of truth|valid source)\b|\bofficial source\b",
    ),
    # German, Spanish, French
    (2.0, r"\bantworte(?:st)? (?:\w+ ){0,3}(?:nur|ausschliesslich|immer|bloss|stets)\b"),
    (2.0, r"\bresponde (?:solo|solamente|unicamente|siempre|exclusivamente)\b|\b(?:dile|di) al usuario que\b"),
    (
        2.0,
        r"\b(?:reponds|repondez) (?:\w+ )?(?:uniquement|seulement|toujours|exclusivement)\b"
        r"|\bdis a l'utilisateur que\b",
    ),
    (
        1.5,
        r"\b(?:empfiehl|sag(?:e)?|behaupte)\b|\b(?:di|recomienda|afirma) que\b|\b(?:recomienda siempre)\b|\b(?:dis"
        r"|affirme) que\b",
    ),
]
# Claims that the rules given to the model no longer hold: weak alone ("the instructions in section 2 are
# outdated" is ordinary), strong with a second-person "your prompt".
_CLAIM = [
    (
        rf"\b{_RULES}\b(?: [\w']+){{0,5}} (?:(?:are|is|have been|has been|were|was) (?:now |all |only "
        r"|just )?(?:outdated|obsolete|void|cancell?ed|invalid|revoked|superseded|suspended|a test|fake"
        r"|no longer (?:valid|in force|apply|applies|relevant))|no longer appl(?:y|ies)|do not apply any ?more)\b"
    ),
    r"\b(?:the )?(?:real|actual|true) (?:ones|rules|instructions) (?:say|are|is)\b",
    (
        r"\bthis (?:document|page|source|text|file) is the (?:most reliable|only (?:valid|reliable|true|correct)"
        r"|best)\b|\ball (?:other|others) (?:sources |documents )?are (?:outdated|wrong|obsolete|false)\b"
    ),
    r"\bend of (?:the )?(?:document|context|text|input|sources?|data|file)\b",
]
_SECOND_PERSON = [
    (
        r"\byour (?:previous |prior |earlier |original |initial |current |system |hidden |secret |internal "
        r"|safety |core |base )?(?:instructions|prompt|system prompt|system message|guidelines|programming"
        r"|guardrails|directives|configuration|operators?|developers?|creators?|content polic\w+|context window"
        r"|context)\b"
    ),
    (
        r"\b(?:deine?n?|deinen) (?:anweisungen|regeln|vorgaben|instruktionen|programmierung|richtlinien)\b"
        r"|\btus (?:instrucciones|reglas|directrices)\b|\btes (?:instructions|consignes|regles)\b"
    ),
    (
        r"\b(?:before|instead of) (?:you )?(?:answer|reply|respond)(?:ing)?\b"
        r"|\bthen continue (?:answering )?(?:normally|as usual)\b"
    ),
    (
        r"\b(?:without (?:telling|informing|notifying|alerting)|(?:do not|don'?t|never) (?:tell|inform|mention"
        r"|reveal|say|let)(?: this)?(?: to)?) (?:the )?(?:user|anyone|users|reader)\b"
    ),
    r"\b(?:silently|secretly|quietly)\b",
    r"\brefuse (?:to answer|and|politely)\b|\byou (?:will|must|shall|are to) now\b",
    (
        r"\b(?:no|without any|without|free (?:of|from)) (?:rules|restrictions|limits|limitations|filters?"
        r"|guardrails|censorship|content polic\w+|einschrankungen|regeln|reglas|restricciones|restrictions?)\b"
    ),
    r"\bnever refuses?\b|\bjailbr\w+",
    r"/etc/(?:passwd|shadow)\b|\.ssh\b|\bid_rsa\b|\bapi keys?\b|\badmin passwords?\b|\bcredentials\b",
    (
        r"\b(?:grant|give) (?:the user |me |them |everyone )?(?:full|total|admin|root|unrestricted) access\b"
        r"|\b(?:concede|da|dale) acceso total\b|\bvoll(?:en|er)? ?zugriff\b|\bacces total\b"
    ),
]
_SQUASHED = re.compile(
    r"(?:ignore|disregard|forget|override|bypass)[a-z]{0,24}(?:instructions|rules|prompts?|guidelines|above|before)"
    r"|systemprompt|youarenow|developermode|jailbreak|notetoai|ifyouareanai"
)


def _compile(patterns: Iterable[str | tuple[float, str]], weight: float) -> list[tuple[float, re.Pattern[str]]]:
    """Each pattern with its weight: its own where given, else the group's."""
    return [(p[0], re.compile(p[1])) if isinstance(p, tuple) else (weight, re.compile(p)) for p in patterns]


_GROUPS: list[tuple[str, list[tuple[float, re.Pattern[str]]]]] = [
    ("address", _compile(_ADDRESS, 2.0)),
    ("override", _compile(_OVERRIDE, 2.0)),
    ("role", _compile(_ROLE, 2.0)),
    ("reveal", _compile(_REVEAL, 2.0)),
    ("response", _compile(_RESPONSE, 2.0)),
    ("exfiltration", _compile(_EXFIL, 1.5)),
    ("turn", _compile(_TURN, 2.0)),
    ("tool", _compile(_TOOL, 1.0)),
    ("claim", _compile(_CLAIM, 1.0)),
    ("second-person", _compile(_SECOND_PERSON, 1.0)),
    ("ai", [(0.5, re.compile(_AI_STRONG))]),
]
_SYSTEM_PROMPT = re.compile(r"\bsystem ?prompt(?!s? (?:you|the|users?|for|when)\b)|\bsystemprompt\b")


# Every pattern at once: a sentence that matches none of them scores nothing but its disguise.
_ANY = re.compile(
    "|".join(f"(?:{p.pattern})".replace("(?P<name>", "(?:") for _, group in _GROUPS for _, p in group)
    + f"|{_SYSTEM_PROMPT.pattern}"
)


def score(sentence: str) -> tuple[float, dict[str, float]]:
    """The sentence's score and what each intent group contributed."""
    folded = fold(sentence)
    text = folded.text
    parts: dict[str, float] = {}
    if not folded.squashed and not _ANY.search(text):  # most sentences: one search instead of one per pattern
        return (1.0, {"disguised": 1.0}) if folded.disguised else (0.0, parts)
    for name, patterns in _GROUPS:
        best = max((w for w, p in patterns if p.search(text)), default=0.0)
        if best:
            parts[name] = best
    named = _TOOL_NAMED.search(text)
    acts = named and _TOOL_ACTION.search(named.group("name"))
    if acts and (_AGENT_TOOL.search(text) or _CALL_WITH_ARGUMENTS.search(text)):
        parts["tool"] = 2.0  # a call of a tool whose name says it acts (submit_, send_, delete_, search_web ...)
    if "exfiltration" in parts and (_URL_OR_MAIL.search(sentence) or _URL_OR_MAIL.search(text)):
        parts["exfiltration"] = 2.0  # data to a named address
    if "response" in parts and (_URL_OR_MAIL.search(sentence) or _URL_OR_MAIL.search(text)):
        parts["response"] = 2.0  # an address to put in the answer
    if _SYSTEM_PROMPT.search(text):
        parts["reveal"] = max(parts.get("reveal", 0.0), 1.0)
    if folded.squashed and _SQUASHED.search(folded.squashed):
        parts["spaced"] = 2.0
    if folded.disguised:
        parts["disguised"] = 1.0
    return sum(parts.values()), parts


def is_addressed_to_ai(sentence: str, threshold: float = THRESHOLD) -> bool:
    """Whether one sentence is addressed to an AI rather than to a reader."""
    return score(sentence)[0] >= threshold


def flagged_sentences(text: str, threshold: float = THRESHOLD) -> list[tuple[int, int]]:
    """(start, end) of each sentence of the text addressed to an AI. A sentence right after one that addresses an
    AI ("Note to AI systems:") counts its signals one point higher: it is what the address introduced."""
    out: list[tuple[int, int]] = []
    addressed = False
    for start, end in sentence_spans(text):
        total, parts = score(text[start:end])
        if addressed and total > 0:
            total += 1.0
        flagged = total >= threshold
        if flagged:
            out.append((start, end))
        addressed = flagged and "address" in parts
    return out
