"""Regenerate the sample knowledge base's binary files (PDF, DOCX, PPTX) from the text in this script.

The text is original, written for this project (CC0). Run: .venv/bin/python scripts/build_sample.py
Needs the dev extra (fpdf2); python-docx and python-pptx come with unstructured's extras.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "data" / "sample"

CODE_OF_CONDUCT = [
    (
        "Code of Conduct",
        [
            (
                "Purpose",
                "Northwind Labs expects every employee, contractor and visitor to treat others with "
                "respect. This code applies in the office, at customer sites, at company events and in every "
                "online channel the company uses.",
            ),
            (
                "Reporting concerns",
                "Report harassment or discrimination to your manager, to People Operations "
                "at people@northwind.example, or anonymously through the ethics hotline at extension 4400. "
                "Reports are acknowledged within two business days and investigated confidentially.",
            ),
        ],
    ),
    (
        "Conflicts of interest",
        [
            (
                "Outside work",
                "Employees must disclose any outside employment, board seat or consulting work "
                "to People Operations before accepting it. Work for a competitor of Northwind Labs is not allowed.",
            ),
            (
                "Gifts",
                "Gifts from suppliers or customers worth more than 75 euros must be declined or reported "
                "to the Finance team within 5 days. Meals during business meetings are allowed.",
            ),
        ],
    ),
    (
        "Consequences",
        [
            (
                "Breaches",
                "A breach of this code can lead to a written warning, and repeated or serious breaches "
                "can lead to dismissal. Retaliation against anyone who reports a concern in good faith is itself "
                "a serious breach.",
            ),
        ],
    ),
]

SECURITY_POLICY = [
    (
        "Information Security Policy",
        [
            (
                "Devices",
                "All laptops must use full-disk encryption and lock the screen after 5 minutes of "
                "inactivity. Lost or stolen devices must be reported to the IT service desk within one hour, "
                "by phone at extension 2222.",
            ),
            (
                "Accounts",
                "Multi-factor authentication is mandatory for email, the VPN and the source code "
                "host. Shared accounts are not allowed; every person uses their own account.",
            ),
        ],
    ),
    (
        "Data classification",
        [
            (
                "Levels",
                "Data is classified as Public, Internal, Confidential or Restricted. Customer "
                "personal data is always Restricted and may only be stored in the EU data centre.",
            ),
            (
                "Retention",
                "Restricted data is deleted 30 days after a customer contract ends, unless the law "
                "requires a longer retention period.",
            ),
        ],
    ),
]


def build_pdf(path: Path, title: str, pages: list[tuple[str, list[tuple[str, str]]]]) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_author("Northwind Labs")
    for heading, sections in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.multi_cell(0, 10, heading, new_x="LMARGIN", new_y="NEXT")
        for sub, text in sections:
            pdf.set_font("Helvetica", "B", 12)
            pdf.multi_cell(0, 8, sub, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    pdf.output(str(path))


def build_benefits_docx(path: Path) -> None:
    from docx import Document

    doc = Document()
    doc.core_properties.title = "Employee Benefits"
    doc.add_heading("Employee Benefits", level=1)
    doc.add_paragraph(
        "This document describes the benefits every permanent employee of Northwind Labs receives "
        "from their first day of employment."
    )
    doc.add_heading("Health insurance", level=2)
    doc.add_paragraph(
        "The company pays 80 percent of the premium for the group health plan, for the employee "
        "and their dependants. Enrolment must be completed within 30 days of the start date."
    )
    doc.add_heading("Pension", level=2)
    doc.add_paragraph(
        "Northwind Labs matches pension contributions up to 5 percent of the gross salary. "
        "Matching starts after the probation period of three months."
    )
    doc.add_heading("Learning budget", level=2)
    doc.add_paragraph(
        "Each employee has a learning budget of 1,500 euros per calendar year for courses, "
        "conferences and books. Unused budget does not carry over to the next year."
    )
    doc.save(str(path))


def build_travel_docx(path: Path) -> None:
    from docx import Document

    doc = Document()
    doc.core_properties.title = "Travel Policy"
    doc.add_heading("Travel Policy", level=1)
    doc.add_heading("Booking", level=2)
    doc.add_paragraph(
        "Book all business travel through the company travel portal at least 14 days in advance. "
        "Train is preferred over flights for trips under 500 kilometres."
    )
    doc.add_heading("Hotels", level=2)
    doc.add_paragraph(
        "The hotel limit is 150 euros per night in most cities and 220 euros per night in London, "
        "Paris and Zurich. Breakfast is included in the limit."
    )
    doc.add_heading("Per diem", level=2)
    doc.add_paragraph(
        "A per diem of 45 euros per day covers meals on travel days. No receipts are needed for the per diem."
    )
    doc.save(str(path))


def build_onboarding_pptx(path: Path) -> None:
    from pptx import Presentation

    slides = [
        ("Engineering Onboarding", "Welcome to the engineering team at Northwind Labs."),
        (
            "Week one",
            "Set up your laptop with the bootstrap script, get access to the source code host, "
            "and pair with your onboarding buddy on a small bug fix.",
        ),
        (
            "Code review",
            "Every change needs one approving review before merge. Reviews should be answered within one business day.",
        ),
        (
            "On-call",
            "New engineers join the on-call rotation after 8 weeks. On-call shifts last one week and "
            "are paid an allowance of 300 euros per shift.",
        ),
    ]
    prs = Presentation()
    prs.core_properties.title = "Engineering Onboarding"
    for title, body in slides:
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    prs.save(str(path))


def main() -> None:
    (HERE / "hr").mkdir(exist_ok=True)
    (HERE / "it").mkdir(exist_ok=True)
    (HERE / "engineering").mkdir(exist_ok=True)
    (HERE / "finance").mkdir(exist_ok=True)
    build_pdf(HERE / "hr" / "code-of-conduct.pdf", "Code of Conduct", CODE_OF_CONDUCT)
    build_pdf(HERE / "it" / "security-policy.pdf", "Information Security Policy", SECURITY_POLICY)
    build_benefits_docx(HERE / "hr" / "benefits.docx")
    build_travel_docx(HERE / "finance" / "travel-policy.docx")
    build_onboarding_pptx(HERE / "engineering" / "onboarding.pptx")


if __name__ == "__main__":
    main()
