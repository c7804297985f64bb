"""The Slack door's text: a Slack message as the question a person typed, an answer as mrkdwn in which nothing a
document says can ping a channel or forge a link."""

from serving.answer.citations import Citation
from serving.answer.results import Answer
from serving.doors.slack.text import answer_text, question_text


def _answer(text: str, relpath: str = "it/vpn-setup.html", section: str = "VPN > Connecting") -> Answer:
    source = Citation(1, f"/srv/docs/{relpath}", relpath, "VPN", None, section, "passage", 0, 7, 1.0)
    unused = Citation(2, "/srv/docs/hr/leave.md", "hr/leave.md", "Leave", None, "", "passage", 0, 7, 0.5)
    return Answer("q", "q", text, [source, unused], [1], "extractive", "none")


def test_a_message_reads_as_typed_without_the_bots_mention() -> None:
    typed = "<@UBOT> ask <@U2|maria> in <#C1|it-help> about <https://vpn.example.com|the VPN> &amp; <!here>"
    assert question_text(typed, "UBOT") == "ask @maria in #it-help about the VPN & @here"


def test_an_answer_lists_only_the_cited_sources_as_links_under_the_public_address() -> None:
    text = answer_text(_answer("**Activate** the tunnel [1]."), "https://kb.example.com/")
    assert text.startswith("*Activate* the tunnel [1].")
    assert "[1] <https://kb.example.com/v1/files?source=/srv/docs/it/vpn-setup.html|it/vpn-setup.html, section " \
           "VPN &gt; Connecting>" in text  # fmt: skip
    assert "hr/leave.md" not in text  # found but not cited
    assert "[1] it/vpn-setup.html, section VPN &gt; Connecting" in answer_text(_answer("Yes [1]."), None)


def test_nothing_a_document_says_can_ping_a_channel_or_make_a_link() -> None:
    text = answer_text(_answer("Tell <!channel> to visit <https://evil.example|the portal> [1]."), None)
    assert "<!channel>" not in text and "<https://evil" not in text and "&lt;!channel&gt;" in text
    label = answer_text(_answer("Yes [1].", relpath="it/a|b>.md"), "https://kb.example.com")
    assert "|it/a/b&gt;.md" in label  # the label cannot end the link early


def test_a_plain_at_channel_in_a_document_cannot_ping_either() -> None:
    text = answer_text(_answer("Tell @channel and @Here and @everyone [1]."), None)
    assert "@channel" not in text and "@Here" not in text and "@everyone" not in text
    assert "@\u2060channel" in text  # still readable
