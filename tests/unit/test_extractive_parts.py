"""The extractive answer to one part of a question, on manual-like and handbook-like passages, with the real
bundled embedder: the sentence that answers, read in its context (heading, referent, list, code, table header),
in the shape the part asks for (steps, summary, comparison, the case of a rule), or nothing when no source names
what is asked."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from retrieval.store import InMemoryStore
from retrieval.text import numbers
from retrieval.types import Chunk, ChunkMeta, Hit
from serving.answer import blocks
from serving.answer.citations import Citation
from serving.answer.cues import asked_values, conditions, key_terms
from serving.answer.extractive import ExtractiveAnswerer, compared
from serving.answer.markers import marker_numbers, strip_markers
from serving.answer.question import Part, kind_of
from serving.answer.sources import number_hits


def page(*paragraphs: str) -> str:
    """A passage as HTML extraction gives it: one paragraph (or heading, list item, code block) per block."""
    return "\n\n".join(paragraphs)


MEMORY = page(
    "20.4.1. Memory",
    "shared_buffers (integer)",
    "Sets the amount of memory the database server uses for shared memory buffers. The default is typically 128 "
    "megabytes (128MB), but might be less if your kernel settings will not support it.",
    "work_mem (integer)",
    "Sets the base maximum amount of memory to be used by a query operation (such as a sort or hash table) before "
    "writing to temporary disk files. The default is four megabytes (4MB).",
    "hash_mem_multiplier (floating point)",
    "Used to compute the maximum amount of memory that hash-based operations can use. The default value is 2.0, "
    "which makes hash-based operations use twice the usual work_mem base amount.",
)
VACUUM = page(
    "25.1.1. Vacuuming Basics",
    "PostgreSQL databases require periodic maintenance known as vacuuming. The VACUUM command has to process each "
    "table on a regular basis for several reasons:",
    "To recover or reuse disk space occupied by updated or deleted rows.",  # list items: HTML extraction drops bullets
    "To update data statistics used by the PostgreSQL query planner.",
    "To protect against loss of very old data due to transaction ID wraparound.",
    "Each of these reasons dictates performing VACUUM operations of varying frequency and scope.",
)
TABLES = page(
    "5.1. Table Basics",
    "A table in a relational database is much like a table on paper: it consists of rows and columns. To create a "
    "table, you use the aptly named CREATE TABLE command. For example:",
    "CREATE TABLE products (\n    product_no integer,\n    name text,\n    price numeric\n);",
    "This creates a table named products with three columns.",
)
LOCKS = page(
    "Table-Level Lock Modes",
    "The following table shows which lock modes conflict with each other.",
    "| Requested Lock Mode | Conflicts With |\n"
    "|---|---|\n"
    "| ACCESS SHARE | ACCESS EXCLUSIVE |\n"
    "| ROW SHARE | EXCLUSIVE, ACCESS EXCLUSIVE |\n"
    "| SHARE UPDATE EXCLUSIVE | SHARE UPDATE EXCLUSIVE, SHARE, EXCLUSIVE |",
)
EXPENSES = page(
    "Expense Claims",
    "Submit expense claims in the finance system within 30 days of the purchase, with a photo or scan of the receipt.",
    "Claims up to 500 euros are approved by your manager. Claims above 500 euros also need approval from the Finance "
    "team.",
    "Approved claims are paid with the next monthly salary run, which happens on the 25th of each month.",
    "Alcohol, traffic fines and personal entertainment are never reimbursed.",
)
VPN_STEPS = page(
    "Setting up the VPN",
    "If the tunnel connects but internal sites do not load, check that no other VPN is active.",
    "To set up the VPN on a new laptop:",
    "1. Sign in to the self-service software centre with your company account.\n"
    "2. Install the WireGuard client from the self-service software centre.\n"
    "3. Open vpn.northwind.example and sign in with multi-factor authentication.\n"
    "4. Download your personal configuration file.\n"
    "5. Import the configuration file into WireGuard.\n"
    "6. Activate the tunnel named northwind-office.\n"
    "7. Open the intranet home page to check that the connection works.",
    "The connection times out after 12 hours and must then be activated again.",
)
LEAVE = page(
    "Parental leave",
    "Birth parents receive 16 weeks of fully paid parental leave. Partners receive 6 weeks of fully paid leave, to "
    "be taken within the first year after the birth or adoption.",
)


def cite(index: int, text: str, relpath: str = "doc.html", title: str = "", section: str = "", **kw: Any) -> Citation:
    return Citation(index, f"/kb/{relpath}", relpath, title, None, section, text, 0, len(text), 1.0, **kw)


@pytest.fixture(scope="module")
def answerer(embedder: Any) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(embedder)


def ask(answerer: ExtractiveAnswerer, question: str, *citations: Citation) -> str:
    return answerer.answer_part(Part(question, kind_of(question), question), list(citations))


def test_a_default_under_the_settings_heading_answers_for_that_setting(answerer: ExtractiveAnswerer) -> None:
    answer = ask(answerer, "What is the default value of work_mem?", cite(1, MEMORY, section="Resource Consumption"))
    first = answer.splitlines()[0]
    assert "4MB" in first and "2.0" not in first and "128" not in first
    assert first.startswith("work_mem: The default is four megabytes (4MB)")  # understandable on its own


def test_a_list_introduced_by_a_colon_comes_whole(answerer: ExtractiveAnswerer) -> None:
    answer = ask(answerer, "Why does VACUUM have to run on a regular basis?", cite(1, VACUUM))
    assert "for several reasons [1]:" in answer
    for reason in ("recover or reuse disk space", "update data statistics", "transaction ID wraparound"):
        assert reason in answer
    assert not strip_markers(answer).rstrip().endswith(":")


def test_for_example_brings_its_code_block_and_what_it_exemplifies(answerer: ExtractiveAnswerer) -> None:
    answer = ask(answerer, "How do I create a table?", cite(1, TABLES))
    assert "CREATE TABLE command" in answer  # the sentence "For example:" refers to
    assert "CREATE TABLE products (\n    product_no integer," in answer  # the code, lines and indentation kept
    assert not strip_markers(answer).rstrip().endswith(":")


def test_a_table_row_keeps_its_header(answerer: ExtractiveAnswerer) -> None:
    answer = ask(answerer, "Which lock modes conflict with ROW SHARE?", cite(1, LOCKS))
    lines = answer.splitlines()
    assert lines[0] == "| Requested Lock Mode | Conflicts With |"
    assert lines[1].startswith("| ROW SHARE | EXCLUSIVE, ACCESS EXCLUSIVE |") and marker_numbers(lines[1]) == [1]


def test_a_row_indexed_with_its_headers_is_quoted_whole(answerer: ExtractiveAnswerer) -> None:
    """A spreadsheet or document table is indexed one row per chunk, "Title - Header: value; ..." (ingest/tables.py):
    the row is the answer, whatever full stops its cells hold, and not a fragment because it has no full stop."""
    rows = [
        "Lead times - Supplier: Praxiteles Marble Inc. Athens; Lead time (days): 63; Country: GR",
        "Lead times - Supplier: Acme GmbH; Lead time (days): 14; Country: DE",
        "Lead times - Supplier: Kestrel Optics; Lead time (days): 23; Country: UK",
    ]
    citations = [cite(i + 1, row, relpath="suppliers.xlsx", chunk=i) for i, row in enumerate(rows)]
    steps = page("Returning goods", "- Open a return in the supplier portal.", "- Book the courier within 30 days.")
    citations.append(cite(4, steps, relpath="returns.html"))
    answer = ask(answerer, "What is the lead time of Praxiteles Marble?", *citations)
    assert answer == f"{rows[0]} [1]"
    answer = ask(answerer, "lead time of Kestrel Optics", *reversed(citations))
    assert answer.splitlines()[0] == f"{rows[2]} [3]"


CONTRACT_ROWS = [
    "Maintenance contracts - Equipment: Boiler A9; Vendor: Servitec; Contract no.: MC-1746; Annual fee (EUR): 1100",
    "Maintenance contracts - Equipment: Boiler C29; Vendor: Maintix; Contract no.: MC-6297; Annual fee (EUR): 6400",
    "Maintenance contracts - Equipment: Boiler H11; Vendor: Voltserve; Contract no.: MC-5708; Annual fee (EUR): 2300",
]
SUPPLIER_ROWS = [
    "Suppliers - Supplier: Solwick Textiles Oy; Country: FI; Category: Textiles; Lead time (days): 75",
    "Suppliers - Supplier: Dorano Textiles Oy; Country: FI; Category: Textiles; Lead time (days): 46",
    "Suppliers - Supplier: Brenex Textiles Ltd; Country: UK; Category: Textiles; Lead time (days): 46",
]


@pytest.mark.parametrize(
    ("question", "rows", "right"),
    [
        ("Which textiles supplier in FI has a lead time of 46 days?", SUPPLIER_ROWS, 1),
        ("What is the annual fee of maintenance contract MC-5708?", CONTRACT_ROWS, 2),
        ("Who maintains the Boiler A9?", CONTRACT_ROWS, 0),
    ],
)
def test_the_row_quoted_holds_the_values_and_codes_the_question_states(
    answerer: ExtractiveAnswerer, question: str, rows: list[str], right: int
) -> None:
    """Rows of one table read alike: the row asked about is the one holding what the question states (FI and 46,
    MC-5708, A9), not the one whose wording is closest; a row naming the asked code answers a "who" question."""
    citations = [cite(i + 1, row, relpath="sheet.xlsx", chunk=i) for i, row in enumerate(reversed(rows))]
    answer = ask(answerer, question, *citations)
    assert answer.splitlines()[0] == f"{rows[right]} [{len(rows) - right}]", answer


def test_a_code_no_row_holds_is_not_answered_by_a_neighbouring_row(answerer: ExtractiveAnswerer) -> None:
    citations = [cite(i + 1, row, relpath="sheet.xlsx", chunk=i) for i, row in enumerate(CONTRACT_ROWS)]
    assert ask(answerer, "Who maintains the Boiler Z99?", *citations) == ""


def test_only_a_whole_passage_of_one_line_is_read_as_a_row() -> None:
    """Lines of prose or list items that look like 'Header: value; Header: value' stay what they are."""
    from serving.answer.passages import read

    prose = page(
        "Power supply", "Input: 100-240 V; Output: 12 V at most.", "- Torque: 25 Nm; Tool: T20 driver.", "Done."
    )
    assert [s.role for s in read(cite(1, prose))] == ["prose", "item", "prose"]
    assert [s.role for s in read(cite(1, "- Torque: 25 Nm; Tool: T20 driver."))] == ["item"]
    row = "Lead times - Supplier: Acme Inc. Berlin; Lead time (days): 14"
    assert [(s.role, s.text) for s in read(cite(1, row))] == [("row", row)]


def test_a_rule_with_cases_answers_with_the_case_the_asked_amount_meets(answerer: ExtractiveAnswerer) -> None:
    source = cite(1, EXPENSES, "finance/expenses.txt")
    big = ask(answerer, "Who must approve a 700 euro claim?", source).splitlines()[0]
    assert "above 500 euros" in big and "Finance" in big
    small = ask(answerer, "Who must approve a 300 euro claim?", source).splitlines()[0]
    assert "up to 500 euros" in small


def test_thresholds_and_asked_amounts_are_read_from_words_and_digits() -> None:
    assert [(c.op, c.value, c.unit) for c in conditions("From the fourth consecutive day a note is required.")] == [
        (">=", 4.0, "day")
    ]
    assert [(c.op, c.value) for c in conditions("A passphrase of four or more words.")] == [(">=", 4.0)]
    ((value, unit),) = asked_values("Who approves expense claims above 500 euros?")
    assert value > 500 and unit == "euro"


def test_a_procedure_is_its_numbered_steps_whole_and_in_order(answerer: ExtractiveAnswerer) -> None:
    answer = ask(answerer, "How do I set up the VPN?", cite(1, VPN_STEPS, "it/vpn.md"))
    lines = answer.splitlines()
    assert lines[0] == "To set up the VPN on a new laptop [1]:"
    assert [line[:3] for line in lines[1:]] == ["1. ", "2. ", "3. ", "4. ", "5. ", "6. ", "7. "]  # all, in order
    assert "Install the WireGuard client" in lines[2] and "Activate the tunnel" in lines[6]
    assert "check that no other VPN" not in answer  # the troubleshooting line is not a set-up step


def test_steps_spread_over_sections_come_in_reading_order(answerer: ExtractiveAnswerer) -> None:
    install = (
        "Install the WireGuard client from the self-service software centre. Then download your personal "
        "configuration file from vpn.northwind.example."
    )
    connect = "Import the configuration file into WireGuard and activate the tunnel named northwind-office."
    trouble = "If the tunnel connects but internal sites do not load, check that no other VPN is active."
    guide = "VPN Setup Guide"
    sources = [  # ranked as retrieval might rank them: connecting first, installing last
        cite(1, page("Connecting", connect), "it/vpn.html", guide, f"{guide} > Connecting", chunk=2),
        cite(2, page("Troubleshooting", trouble), "it/vpn.html", guide, f"{guide} > Troubleshooting", chunk=3),
        cite(3, page("Installing the client", install), "it/vpn.html", guide, f"{guide} > Installing", chunk=1),
    ]
    answer = ask(answerer, "How do I set up the VPN on my laptop?", *sources)
    assert answer.index("Install the WireGuard") < answer.index("Import the configuration")
    assert "check that no other VPN" not in answer


def test_a_part_naming_something_no_source_mentions_is_not_found(answerer: ExtractiveAnswerer) -> None:
    sources = [cite(1, MEMORY, "runtime-config-resource.html"), cite(2, VACUUM, "routine-vacuuming.html")]
    assert ask(answerer, "What is the default value of pool_mode in PgBouncer?", *sources) == ""
    assert ask(answerer, "What is the default of pg_stat_statements.max?", *sources) == ""
    assert ask(answerer, "What is the default value of work_mem?", *sources) != ""  # named, so answered


BENEFITS = page(
    "Benefits",
    "The company pays 80 percent of the premium for the group health plan, for the employee and their dependants.",
    "Sick leave does not reduce annual leave. From the fourth consecutive day of sick leave a doctor's note is "
    "required.",
)


def test_a_yes_no_part_about_things_no_source_mentions_is_not_found(answerer: ExtractiveAnswerer) -> None:
    """ "Does the company pay for my home internet?" is not answered by what the company pays for something else."""
    sources = [cite(1, BENEFITS, "hr/benefits.md"), cite(2, LEAVE, "hr/leave.md")]
    assert ask(answerer, "does the company pay for my home internet?", *sources) == ""
    assert "does not reduce annual leave" in ask(answerer, "Does sick leave reduce my annual leave?", *sources)
    assert "80 percent" in ask(answerer, "Does the company pay for the group health plan?", *sources)
    # a title's question is a claim the abstract words its own way: answered, not refused
    abstract = page(
        "Nasal polyposis",
        "Familial clustering of nasal polyposis was found in 52 percent of the probands' first-degree relatives, "
        "which suggests that heredity plays a role in the disease.",
    )
    title = "Nasal polyposis: is there an inheritance pattern?"
    assert "heredity plays a role" in ask(answerer, title, cite(1, abstract, "pubmed/1.txt"))


def test_a_summary_gives_one_key_statement_per_theme_in_order(answerer: ExtractiveAnswerer) -> None:
    answer = ask(answerer, "Give me an overview of the expense policy.", cite(1, EXPENSES, "finance/expenses.txt"))
    lines = answer.splitlines()
    assert 3 <= len(lines) <= 5
    expected = ["within 30 days", "500 euros", "salary run", "never reimbursed"]
    found = [next(i for i, line in enumerate(lines) if key in line) for key in expected]
    assert found == sorted(found)  # one line per paragraph, in the document's order


def test_a_comparison_gives_both_values_each_cited(answerer: ExtractiveAnswerer) -> None:
    question = "Which is longer, parental leave for partners or for birth parents?"
    assert compared(question) == ["parental leave for partners", "for birth parents"]
    answer = ask(answerer, question, cite(1, LEAVE, "hr/leave.md"))
    assert {6.0, 16.0} <= numbers(answer) and marker_numbers(answer) and "[1]" in answer


def test_a_sentence_cut_by_the_passage_end_is_never_quoted(answerer: ExtractiveAnswerer) -> None:
    text = page(
        "Sick leave",
        "Tell your manager before 10:00 on the first day of illness. From the fourth consecutive day of sick leave a "
        "doctor's note is required, and the note must be sent to",  # the chunk ends here, mid-sentence
    )
    answer = ask(answerer, "When is a doctor's note required for sick leave?", cite(1, text))
    assert answer and "must be sent to" not in answer


def test_a_sentence_about_the_preceding_one_brings_it(answerer: ExtractiveAnswerer) -> None:
    text = page(
        "Isolation",
        "The Repeatable Read isolation level only sees data committed before the transaction began. Applications "
        "using this level must be prepared to retry transactions due to serialization failures.",
    )
    answer = ask(answerer, "What must applications using this isolation level be prepared to do?", cite(1, text))
    assert answer.startswith("The Repeatable Read isolation level only sees data") and "retry transactions" in answer


# A Sphinx reference page as HTML extraction gives it: each entry's signature line (with its pilcrow), then the
# entry's description, which rarely names what it describes.
GETPASS = page(
    "getpass — Portable password input¶",
    "The getpass module provides two functions:",
    "getpass.getpass(prompt='Password: ', stream=None)¶",
)
GETPASS_NEXT = page(
    "Prompt the user for a password without echoing. The user is prompted using the string prompt, which defaults "
    "to 'Password: '.",
    "getpass.getuser()¶",
    "Return the “login name” of the user.",
)
SQLITE = page(
    "sqlite3.connect(database, timeout=5.0, detect_types=0, isolation_level='DEFERRED', check_same_thread=True, "
    "factory=sqlite3.Connection, cached_statements=128, uri=False)¶",
    "Open a connection to an SQLite database.",
    "cached_statements (int) – The number of statements that sqlite3 should internally cache for this connection, "
    "to avoid parsing overhead. By default, 128 statements.",
    "uri (bool) – If set to True, database is interpreted as a URI with a file path and an optional query string.",
)
EXECUTOR = page(
    "ThreadPoolExecutor",
    "Changed in version 3.5: If max_workers is None or not given, it will default to the number of processors on "
    "the machine, multiplied by 5, assuming that ThreadPoolExecutor is often used to overlap I/O instead of CPU work "
    "and the number of workers should be higher than the number of workers for ProcessPoolExecutor.",
    "Changed in version 3.8: Default value of max_workers is changed to min(32, os.cpu_count() + 4).",
)
SHUTIL = page(
    "shutil.copy(src, dst, *, follow_symlinks=True)¶",
    "Copies the file src to the file or directory dst. src and dst should be path-like objects or strings.",
    "shutil.copytree(src, dst, symlinks=False, ignore=None, copy_function=copy2, ignore_dangling_symlinks=False, "
    "dirs_exist_ok=False)¶",
    "Recursively copy an entire directory tree rooted at src to a directory named dst and return the destination "
    "directory. If dirs_exist_ok is true, the copying operation will continue if it encounters existing "
    "directories.",
)


def test_an_api_entry_is_quoted_with_the_signature_it_describes(answerer: ExtractiveAnswerer) -> None:
    # the signature ends the chunk before the description's: it is carried over to the next chunk of the page
    before = cite(2, GETPASS, "getpass.html", chunk=3)
    entry = cite(1, GETPASS_NEXT, "getpass.html", chunk=4)
    answer = ask(answerer, "How do I prompt for a password without echoing it?", entry, before)
    first = answer.splitlines()[0]
    assert first.startswith("getpass.getpass(prompt='Password: ', stream=None): Prompt the user for a password")
    assert "¶" not in answer


def test_a_list_of_api_entries_is_not_a_procedure(answerer: ExtractiveAnswerer) -> None:
    # the module's intro says nearly what is asked and brings a list, but the list holds signatures, not steps: the
    # entry that does it answers (the intro won by 0.6 of score under ONNX int8 embeddings with the original wording)
    intro = page(
        "getpass — Portable password input¶",
        "The getpass module provides two functions for prompting the user for a password without echoing it:",
        "getpass.getpass(prompt='Password: ', stream=None)¶",
    )
    before = cite(2, intro, "getpass.html", chunk=3)
    entry = cite(1, GETPASS_NEXT, "getpass.html", chunk=4)
    answer = ask(answerer, "How do I prompt for a password without echoing it?", entry, before)
    assert answer.startswith("getpass.getpass(prompt='Password: ', stream=None): Prompt the user for a password")


def test_a_long_signature_shows_its_first_and_asked_parameters_and_a_value_follows(
    answerer: ExtractiveAnswerer,
) -> None:
    answer = ask(answerer, "How many statements does an sqlite3 connection cache by default?", cite(1, SQLITE))
    assert "By default, 128 statements [1]." in answer  # the sentence after, which gives the value asked
    assert "128" in answer.splitlines()[0]


def test_a_later_version_note_replaces_an_earlier_one(answerer: ExtractiveAnswerer) -> None:
    answer = ask(answerer, "What is the default number of worker threads of ThreadPoolExecutor?", cite(1, EXECUTOR))
    assert answer.startswith("ThreadPoolExecutor: Changed in version 3.8") and "version 3.5" not in answer


def test_a_how_to_on_a_reference_page_is_its_best_entry_not_a_lone_imperative(answerer: ExtractiveAnswerer) -> None:
    answer = ask(answerer, "How do I copy a directory tree into a directory that already exists?", cite(1, SHUTIL))
    assert "copytree" in answer.splitlines()[0] and "dirs_exist_ok is true" in answer


# Man pages as AsciiDoc HTML gives them: an FAQ whose question is a statement and a question, an example that a
# sentence introduces with its commands, a note that says what to do for a purpose.
FAQ = page(
    "Common Issues",
    "I’ve made a mistake in the last commit. How do I change it?",
    "You can make the appropriate change to your working tree, run git add <file> or git rm <file>, as appropriate, "
    "to stage it, and then git commit --amend. Your change will be included in the commit, and you’ll be prompted "
    "to edit the commit message again.",
    "I’ve made a change with a bug and it’s been included in the main branch. How should I undo it?",
    "The usual way to deal with this is to use git revert.",
)
BISECT = page(
    "Basic bisect commands: start, bad, good",
    "As an example, suppose you are trying to find the commit that broke a feature that was known to work in "
    "version v2.6.13-rc2 of your project. You start a bisect session as follows:",
    "$ git bisect start\n$ git bisect bad                 # Current version is bad\n"
    "$ git bisect good v2.6.13-rc2    # v2.6.13-rc2 is known to be good",
    "Once you have specified at least one bad and one good commit, git bisect selects a commit in the middle.",
)
IGNORE = page(
    "DESCRIPTION",
    "A gitignore file specifies intentionally untracked files that Git should ignore. Files already tracked by Git "
    "are not affected; see the NOTES below for details.",
    "NOTES",
    "The purpose of gitignore files is to ensure that certain files not tracked by Git remain untracked.",
    "To stop tracking a file that is currently tracked, use git rm --cached.",
)


def test_an_faq_question_is_its_whole_paragraph_and_its_answer_follows(answerer: ExtractiveAnswerer) -> None:
    answer = ask(
        answerer,
        "I forgot to include a file in my last commit. How do I put it into that commit?",
        cite(1, FAQ, "gitfaq.html"),
    )
    assert answer.startswith("You can make the appropriate change") and "git commit --amend" in answer
    assert "I’ve made a mistake" not in answer  # the FAQ's own question is never an answer


PULL = page(
    "OPTIONS",
    "Generally, the same rules apply for fetching as when pushing, see the <refspec>... section of git-push(1).",
    "Note There is a difference between listing multiple <refspec> directly on git pull command line and having "
    "multiple remote.<repository>.fetch entries in your configuration.",
)
FETCH_OR_PULL = page(
    "Common Issues",
    "How do I know if I want to do a fetch or a pull?",
    "A fetch stores a copy of the latest changes from the remote repository, without modifying the working tree or "
    "current branch. You can then at your leisure inspect, merge, rebase on top of, or ignore the upstream changes. "
    "A pull consists of a fetch followed immediately by either a merge or rebase. See git-pull(1).",
)


def test_a_comparison_an_faq_asks_is_answered_by_the_faqs_whole_answer(answerer: ExtractiveAnswerer) -> None:
    answer = ask(
        answerer,
        "What is the difference between git fetch and git pull?",
        cite(1, PULL, "git-pull.html"),
        cite(2, FETCH_OR_PULL, "gitfaq.html"),
    )
    assert answer.startswith("A fetch stores a copy") and "without modifying the working tree" in answer, answer
    assert "followed immediately by either a merge or rebase [2]" in answer and "[1]" not in answer


def test_a_how_to_brings_the_commands_the_next_sentence_introduces(answerer: ExtractiveAnswerer) -> None:
    answer = ask(answerer, "How do I find the commit that broke a feature that used to work?", cite(1, BISECT))
    assert "You start a bisect session as follows [1]:" in answer
    assert "$ git bisect start\n$ git bisect bad" in answer


def test_a_statement_before_the_question_is_context_and_a_purpose_clause_is_a_step(
    answerer: ExtractiveAnswerer,
) -> None:
    question = "A file matches a pattern in .gitignore but Git still tracks it. How do I stop tracking it?"
    answer = ask(answerer, question, cite(1, IGNORE, "gitignore.html"))
    assert answer.splitlines()[0].endswith(
        "To stop tracking a file that is currently tracked, use git rm --cached [1]."
    )


def test_an_faq_statement_belongs_to_its_question_not_to_the_answers() -> None:
    from serving.answer.candidates import candidates_of

    candidates = candidates_of([cite(1, FAQ, "gitfaq.html")])
    texts = [c.text for c in candidates]
    assert "I’ve made a mistake in the last commit." not in texts
    answer = next(c for c in candidates if c.text.startswith("You can make"))
    assert answer.asked == "I’ve made a mistake in the last commit. How do I change it?"


def test_the_words_of_the_question_weigh_more_than_the_statement_before_it(answerer: ExtractiveAnswerer) -> None:
    question = "A file matches a pattern in .gitignore but Git still tracks it. What stops it being tracked?"
    answer = answerer.answer_part(Part(question, "fact", question), [cite(1, IGNORE, "gitignore.html")])
    assert answer.splitlines()[0].endswith(
        "To stop tracking a file that is currently tracked, use git rm --cached [1]."
    )


GLOSSARY = page(
    "GIT GLOSSARY",
    "dangling object",
    "An unreachable object which is not reachable even from other unreachable objects.",
    "detached HEAD",
    "Normally the HEAD stores the name of a branch, and commands that operate on the history HEAD represents "
    "operate on the history leading to the tip of the branch the HEAD points at. However, Git also allows you to "
    "check out an arbitrary commit that isn’t necessarily the tip of any particular branch. The HEAD in such a "
    'state is called "detached".',
    "directory",
    'The list you get with "ls" :-)',
)


def test_a_definition_is_the_first_sentences_of_the_entry_the_term_heads(answerer: ExtractiveAnswerer) -> None:
    answer = ask(answerer, "What is a detached HEAD?", cite(1, GLOSSARY, "gitglossary.html"))
    lines = answer.splitlines()
    assert lines[0].startswith("detached HEAD: Normally the HEAD stores the name of a branch")
    assert "arbitrary commit" in answer and 'called "detached"' in lines[-1]
    assert "unreachable" not in answer


LOCKS_API = page(
    "class threading.Lock¶",
    "The class implementing primitive lock objects. Once a thread has acquired a lock, subsequent attempts to "
    "acquire it block, until it is released; any thread may release it.",
    "class threading.RLock¶",
    "This class implements reentrant lock objects. A reentrant lock must be released by the thread that acquired "
    "it. Once a thread has acquired a reentrant lock, the same thread may acquire it again without blocking.",
    "class threading.Condition(lock=None)¶",
    "If the lock argument is given and not None, it must be a Lock or RLock object. Otherwise, a new RLock object "
    "is created and used as the underlying lock.",
)


@pytest.mark.parametrize(
    ("question", "sides"),
    [
        ("How does an RLock differ from a Lock?", ["an RLock", "a Lock"]),
        ("What is the difference between a shallow and a deep copy?", ["a shallow copy", "a deep copy"]),
        ("What is the difference between Monday and the end of the week?", ["Monday", "the end of the week"]),
    ],
)
def test_the_sides_of_a_comparison_are_read_from_its_wording(question: str, sides: list[str]) -> None:
    assert compared(question) == sides


def test_a_compared_thing_with_an_entry_of_its_own_is_described_by_it(answerer: ExtractiveAnswerer) -> None:
    answer = ask(answerer, "How does an RLock differ from a Lock?", cite(1, LOCKS_API, "threading.html"))
    assert "class threading.RLock: This class implements reentrant lock objects [1]." in answer
    assert "class threading.Lock: The class implementing primitive lock objects [1]." in answer
    assert "Condition" not in answer


def test_a_part_whose_things_no_source_mentions_is_not_found(answerer: ExtractiveAnswerer) -> None:
    sources = [cite(1, EXPENSES, "finance/expenses.txt"), cite(2, VPN_STEPS, "it/vpn.md")]
    # common words, no name among them: two things asked about (a mobile phone contract) that no source mentions
    assert ask(answerer, "Who pays for my mobile phone contract?", *sources) == ""
    assert ask(answerer, "Who approves the mileage allowance for my car?", *sources) == ""
    # one thing in words of the asker's own ("a chair") is not enough: the rule for the amount still answers
    assert "Finance" in ask(answerer, "Who must approve a 700 euro claim for a chair?", *sources)


def test_a_product_named_with_an_acronym_must_be_in_the_sources(answerer: ExtractiveAnswerer) -> None:
    attributes = page(
        "gitattributes",
        "The simplest way to mark a file as binary is to unset the diff attribute in the .gitattributes file:",
        "*.ps -diff",
        "To have Git track large binary files, set the filter attribute for their paths in .gitattributes.",
    )
    assert ask(answerer, "How do I configure Git LFS to track large binary files?", cite(1, attributes)) == ""
    # named apart ("vpn.northwind.example", "VPN"): the sources are about it
    assert ask(answerer, "How long does a Northwind VPN connection last?", cite(1, VPN_STEPS)) != ""
    # a rare name before a compound ("a Zstandard-compressed archive") is a name the sources must mention too
    rare = answerer._rare
    assert key_terms("How do I write a Zstandard-compressed archive with zipfile?", rare) == ["Zstandard"]
    assert key_terms("Is it a Gram-negative or a Long-Term thing?", rare) == []  # common words; two capitals


def test_a_list_line_of_several_sentences_is_quoted_once(answerer: ExtractiveAnswerer) -> None:
    actions = page(
        "action",
        "ArgumentParser objects associate command-line arguments with actions. The action keyword argument "
        "specifies how the command-line arguments should be handled. The supplied actions are:",
        "'store' - This just stores the argument’s value. This is the default action. For example:",
    )
    answer = ask(answerer, "What does the store action do with the argument's value?", cite(1, actions))
    assert answer.count("This just stores the argument’s value") == 1, answer


@pytest.mark.parametrize(
    ("question", "asks_default"),
    [
        ("What is the initial branch of a new repository called when no name is configured?", True),
        ("Which push.default mode does Git use when I have not configured one?", True),
        ("What happens if the timeout is not given?", True),
        ("What is the initial branch of a new repository called?", False),
    ],
)
def test_a_question_about_nothing_being_set_asks_for_the_default(question: str, asks_default: bool) -> None:
    from serving.answer.quoting import DEFAULT_STATEMENT
    from serving.answer.scoring import UNSET

    assert bool(UNSET.search(question)) == asks_default
    assert DEFAULT_STATEMENT.search("If not specified, fall back to the default name (currently master).")


RESET = page(
    "git reset [<mode>] [<commit>]",
    "This form resets the current branch head to <commit> and possibly updates the index and the working tree "
    "depending on <mode>. If <mode> is omitted, defaults to --mixed. The <mode> must be one of the following:",
    "--soft",
    "Does not touch the index file or the working tree at all (but resets the head to <commit>).",
    "--mixed",
    "Resets the index but not the working tree and reports what has not been updated.",
)
RESET_REST = page(
    "--hard",
    "Resets the index and working tree. Any changes to tracked files in the working tree since <commit> are discarded.",
    "--keep",
    "Resets index entries and updates files in the working tree that are different between <commit> and HEAD.",
)


@pytest.mark.parametrize(
    ("text", "runs_on"),
    [
        (RESET, True),  # a run of term and description entries its colon introduced, to the passage's end
        (page("Reasons:", "- To recover disk space.", "- To update statistics."), True),  # a marked list to the end
        (page("Some prose.", "For example:"), True),  # ends on its colon
        (VACUUM, False),  # the list ends and prose follows in the same passage
        (MEMORY, False),  # no colon introduces the entries
        (RESET_REST, False),
    ],
)
def test_a_passage_runs_on_when_it_ends_inside_the_list_its_colon_introduced(text: str, runs_on: bool) -> None:
    assert blocks.runs_on(text) is runs_on


def test_a_passage_cut_inside_its_list_is_read_on_into_the_next_one_of_its_file(answerer: ExtractiveAnswerer) -> None:
    meta = ChunkMeta(relpath="git-reset.html", content_hash="v1", section="git reset", start=0, end=len(RESET))
    cut = Chunk("c6", RESET, "/kb/git-reset.html", meta)
    rest = Chunk("c7", RESET_REST, cut.source, replace(meta, chunk_index=1, start=len(RESET), end=len(RESET) + 99))
    store = InMemoryStore()
    store.upsert([cut, rest], np.eye(2, 8, dtype=np.float32))
    whole = blocks.run_on([Hit(cut, 0.9, {})], store.following)[0]
    assert whole.chunk.text == f"{RESET}\n\n{RESET_REST}" and whole.chunk.meta.end == len(RESET) + 99
    (citation, _), *_ = number_hits([whole], 1500)
    text = answerer.answer("Give me an overview of the modes of git reset.", [citation])
    assert all(mode in text for mode in ("--soft", "--mixed", "--hard", "--keep")), text
    assert blocks.run_on([Hit(rest, 0.9, {})], store.following)[0].chunk is rest  # nothing to read on into


PUSH = page(
    "git push origin",
    "Without additional configuration, pushes the current branch to the configured upstream if it has the same name "
    "as the current branch, and errors out without pushing otherwise.",
    "The default behavior of this command when no <refspec> is given can be configured by setting the push option of "
    "the remote, or the push.default configuration variable.",
    "For example, to default to pushing only the current branch to origin use git config remote.origin.push HEAD.",
    "Any valid <refspec> (like the ones in the examples below) can be configured as the default for git push origin.",
)
PUSH_CONFIG = page(
    "DESCRIPTION",
    "When neither the command-line nor the configuration specify what to push, the default behavior is used, which "
    "corresponds to the simple value for push.default: the current branch is pushed to the corresponding upstream "
    "branch.",
)


def test_a_question_about_nothing_being_set_is_answered_by_what_holds_then(answerer: ExtractiveAnswerer) -> None:
    text = ask(
        answerer,
        "Which push.default mode does Git use when I have not configured one?",
        cite(1, PUSH),
        cite(2, PUSH_CONFIG),
    )
    assert "which corresponds to the simple value for push.default" in text, text


SPLITTING = page(
    "SPLITTING COMMITS",
    "In interactive mode, you can mark commits with the action edit. This can be used to split a commit into two:",
    "- Start an interactive rebase with git rebase -i <commit>^. In fact, any commit range will do, as long as it "
    "contains that commit.",
    "- Mark the commit you want to split with the action edit.",
    "- When it comes to editing that commit, execute git reset HEAD^. The effect is that the HEAD is rewound by one.",
    "- Now add the changes to the index that you want to have in the first commit.",
    "- Continue the rebase with git rebase --continue.",
    "If you are not absolutely sure that the intermediate revisions are consistent, use git stash.",
)


def test_a_procedure_brings_its_whole_list_though_an_item_has_several_sentences(answerer: ExtractiveAnswerer) -> None:
    answer = ask(answerer, "How do I split one commit into two?", cite(1, SPLITTING))
    lines = [line for line in answer.splitlines() if line.startswith("- ")]
    assert len(lines) == 5, answer  # one line per item, each whole
    assert lines[0].startswith("- Start an interactive rebase") and "any commit range will do" in lines[0]
    assert "git reset HEAD^" in lines[2] and "rewound by one" in lines[2]
    assert lines[-1].startswith("- Continue the rebase")


REQUESTING_LEAVE = page(
    "Requesting leave",
    "Request leave in the HR portal at least two weeks in advance for periods longer than three days. Your manager "
    "approves or declines within five business days. Up to 5 unused days can be carried over to the next year.",
    "Part-time employees receive leave in proportion to their contracted hours.",
)


def test_a_procedure_of_one_sentence_in_prose_brings_what_its_paragraph_says_next(answerer: ExtractiveAnswerer) -> None:
    answer = ask(answerer, "How do I request annual leave?", cite(1, REQUESTING_LEAVE, relpath="leave-policy.md"))
    assert answer.startswith("Request leave in the HR portal"), answer
    assert "within five business days" in answer  # the next sentence of its paragraph: what happens to the request
    assert "Part-time" not in answer  # another paragraph


def test_only_a_list_of_reference_entries_is_not_steps() -> None:
    """Reference pages mark an entry's signature (its permalink sign, "class ..."); a list of calls to type is the
    reader's steps, however much its lines look like signatures."""
    from serving.answer.extractive import lists_entries
    from serving.answer.passages import Sentence

    def intro(*lines: str) -> Sentence:
        return Sentence(0, 0, 0, "Do this:", "prose", block=lines, block_kind="list")

    assert lists_entries(intro("getpass.getpass(prompt='Password: ', stream=None)¶", "getpass.getuser()¶"))
    assert lists_entries(intro("class threading.RLock", "exception subprocess.TimeoutExpired(cmd, timeout)"))
    assert not lists_entries(intro("quit()"))
    assert not lists_entries(intro("conn.commit()", "conn.close()"))
    assert not lists_entries(intro("os.makedirs(path, exist_ok=True)"))
    assert not lists_entries(intro("getpass.getpass()¶", "Then call conn.close() when done."))
