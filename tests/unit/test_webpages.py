from pathlib import Path

from ingest.formats import default_loaders
from ingest.webpages import HtmlLoader

BODY = " ".join(
    f"The replication slot keeps write-ahead log segment {i} until every standby has confirmed it, so a "
    f"standby that falls behind makes the primary retain more segments on disk."
    for i in range(6)
)

# A generated manual's page: a link bar without any semantic markup (PostgreSQL's navheader and navfooter tables),
# an HTML5 header, nav and footer, and an ARIA navigation landmark (Sphinx's related bar).
PAGE = f"""<!doctype html><html><head><title>26.2. Log-Shipping Standby Servers</title></head><body>
<div role="navigation" class="related"><h3>Navigation</h3><ul><li><a href="i.html">index</a></li>
<li><a href="n.html">next</a> |</li><li>Server Administration »</li><li>26.2. Log-Shipping Standby Servers</li>
</ul></div>
<header><p>Gazelleheader Documentation Portal</p></header>
<nav><a href="/">Home</a> <a href="/search">Search the Marmotnav docs</a></nav>
<div class="navheader"><table width="100%"><tr>
<th colspan="3" align="center">26.2. Log-Shipping Standby Servers</th></tr>
<tr><td width="10%" align="left"><a accesskey="p" href="a.html">Prev</a> </td><td width="10%" align="left">
<a accesskey="u" href="b.html">Up</a></td><th width="60%" align="center">Chapter 26. High Availability Okapibar</th>
<td width="10%" align="right"><a accesskey="h" href="c.html">Home</a></td><td width="10%" align="right">
<a accesskey="n" href="d.html">Next</a></td></tr></table><hr /></div>
<div class="sect1"><h2>26.2. Log-Shipping Standby Servers</h2><p>{BODY}</p>
<h3>26.2.1. Planning</h3><p>Plan the standby's disk for at least twice the primary's peak write rate per hour,
because a standby that restarts replays every segment it has not applied yet before it accepts connections.</p>
<table><tr><th>Setting</th><th>Default</th></tr><tr><td>wal_keep_size</td><td>0</td></tr>
<tr><td>max_slot_wal_keep_size</td><td>-1</td></tr></table></div>
<div class="navfooter"><hr /><table width="100%"><tr><td><a href="a.html">Prev</a></td><td><a href="b.html">Up</a></td>
<td><a href="d.html">Next</a></td></tr><tr><td>26.1. Comparison Okapibar</td><td><a href="c.html">Home</a></td>
<td>26.3. Failover</td></tr></table></div>
<footer>Copyright Tapirfooter Group</footer></body></html>"""


def test_folder_html_is_read_without_its_navigation_header_and_footer() -> None:
    path = Path("standby.html")
    loader = default_loaders()["html"]
    assert isinstance(loader, HtmlLoader)
    doc = loader.load(path, PAGE.encode())
    text = "\n".join(s.text for s in doc.sections)
    for chrome in ("Gazelleheader", "Marmotnav", "Okapibar", "Tapirfooter", "Navigation", "Prev", "index"):
        assert chrome not in text, chrome
    assert doc.title == "26.2. Log-Shipping Standby Servers"
    assert "replication slot keeps write-ahead log segment 5" in text
    headings = [s.heading for s in doc.sections]
    assert "26.2. Log-Shipping Standby Servers > 26.2.1. Planning" in headings
    planning = [s.text for s in doc.sections if s.heading.endswith("Planning")]
    # The table is content, each row with its headers under the section's heading (ingest/tables.py).
    assert any("Setting: max_slot_wal_keep_size; Default: -1" in text for text in planning), planning


def test_a_tiny_page_without_main_content_is_read_whole() -> None:
    doc = HtmlLoader().load(Path("tiny.html"), b"<html><body><p>Call 4400 for help.</p></body></html>")
    assert [s.text for s in doc.sections] == ["Call 4400 for help."]
