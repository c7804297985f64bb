"""`python -m eval bench-ocr [PDF]`: OCR engines on degraded scans of a real PDF, against the PDF's own text layer.

Pages of a born-digital PDF (by default the Debian Reference, fetched with `apt-get download debian-reference-en`
into data/cache once) are rendered and made into poor scans, deterministically (seeded): 100-150 dpi, rotated
1-3 degrees, Gaussian noise and a few dark specks, saved as low-quality JPEG. Each engine reads the same scans.
Character accuracy = 1 - normalised Levenshtein distance between the OCR text and the page's text layer, both
lower-cased with whitespace collapsed. Then the loader's own path: the scans saved as an image-only PDF and read by
PdfLoader (render at ingest.ocr_dpi, OCR, page numbers), with each render resolution given.
"""

from __future__ import annotations

import io
import json
import platform
import random
import re
import subprocess  # nosec B404  # apt-get and dpkg with fixed arguments
import time
from pathlib import Path
from typing import Any

from configs.settings import PROJECT_ROOT

_SPACE = re.compile(r"\s+")
PACKAGE = "debian-reference-en"


def fetch_pdf(cache: Path) -> Path:
    """The Debian Reference PDF (apt-get download + dpkg -x once into cache)."""
    raw = cache / "ocr-bench"
    found = sorted(raw.rglob("debian-reference.en.pdf"))
    if found:
        return found[0]
    raw.mkdir(parents=True, exist_ok=True)
    if not list(raw.glob(f"{PACKAGE}_*.deb")):
        subprocess.run(["apt-get", "download", PACKAGE], cwd=raw, check=True)  # nosec B603 B607  # Debian's tool, fixed arguments, no shell
    deb = next(raw.glob(f"{PACKAGE}_*.deb"))
    subprocess.run(["dpkg", "-x", str(deb), str(raw / "x")], check=True)  # nosec B603 B607  # Debian's tool, fixed arguments, no shell
    return next(raw.rglob("debian-reference.en.pdf"))


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def char_accuracy(ocr: str, truth: str) -> float:
    from rapidfuzz.distance import Levenshtein

    return 1.0 - float(Levenshtein.normalized_distance(normalise(ocr), normalise(truth)))


def pick_pages(pdf: Any, count: int, seed: int, min_chars: int = 800, max_chars: int = 4000) -> list[tuple[int, str]]:
    """(page number from 1, text layer) of `count` pages with a fair amount of text, spread over the document."""
    candidates = []
    for index in range(len(pdf)):
        page = pdf[index]
        textpage = page.get_textpage()
        text = textpage.get_text_bounded()
        textpage.close()
        page.close()
        if min_chars <= len(normalise(text)) <= max_chars:
            candidates.append((index + 1, text))
    rng = random.Random(seed)  # nosec B311  # a benchmark's reproducible choice, not security
    step = max(1, len(candidates) // count)
    start = rng.randrange(step)
    return candidates[start::step][:count]


def degrade(image: Any, rng: random.Random, render_dpi: int) -> tuple[Any, dict[str, Any]]:
    """A poor scan of a clean page rendering: lower resolution, skewed, noisy, JPEG-compressed."""
    import numpy as np
    from PIL import Image

    dpi = rng.choice([100, 120, 150])
    angle = rng.uniform(1.0, 3.0) * rng.choice([-1, 1])
    quality = rng.randint(25, 45)
    gray = image.convert("L")
    scale = dpi / render_dpi
    gray = gray.resize((round(gray.width * scale), round(gray.height * scale)), Image.Resampling.BILINEAR)
    gray = gray.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
    pixels = np.asarray(gray).astype(np.float64)
    noise = np.random.default_rng(rng.randrange(2**32))
    pixels = pixels * 0.85 + 20 + noise.normal(0, 14, pixels.shape)  # grey paper, sensor noise
    specks = noise.random(pixels.shape) < 0.002
    pixels[specks] = 0
    out = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    out.save(buffer, format="JPEG", quality=quality)
    scan = Image.open(io.BytesIO(buffer.getvalue()))
    scan.load()
    return scan, {"dpi": dpi, "angle": round(angle, 2), "jpeg_quality": quality}


def _cpu() -> dict[str, Any]:
    model, flags = platform.processor(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    import os

    return {
        "model": model,
        "cores": os.cpu_count(),
        "avx512f": "avx512f" in flags,
        "avx512_vnni": "avx512_vnni" in flags,
        "avx2": "avx2" in flags,
    }


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (tesseract runs as one): steadier than wall time on a
    shared machine."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run(
    pdf_path: Path, pages: int, seed: int, engines: list[str], render_dpis: list[int], threads: int = 0
) -> dict[str, Any]:
    import pypdfium2 as pdfium

    from ingest.loaders import PdfLoader
    from ingest.ocr import OcrOptions, build_engine

    pdf = pdfium.PdfDocument(str(pdf_path))
    chosen = pick_pages(pdf, pages, seed)
    rng = random.Random(seed)  # nosec B311  # a benchmark's reproducible noise, not security
    scans, truths, settings = [], [], []
    for number, text in chosen:
        page = pdf[number - 1]
        image = page.render(scale=300 / 72, grayscale=True).to_pil()
        page.close()
        scan, how = degrade(image, rng, 300)
        scans.append(scan)
        truths.append(text)
        settings.append({"page": number, **how})
    pdf.close()
    result: dict[str, Any] = {
        "pdf": pdf_path.name,
        "seed": seed,
        "threads": threads,
        "cpu": _cpu(),
        "scans": settings,
        "engines": {},
    }
    for name in engines:
        engine = build_engine(OcrOptions(engine=name, threads=threads))  # type: ignore[arg-type]
        assert engine is not None
        t0 = time.perf_counter()
        engine.read(scans[0].crop((0, 0, 200, 200)))  # load the model outside the timing
        load_s = time.perf_counter() - t0
        accuracies, seconds = [], []
        cpu0 = _cpu_seconds()
        for scan, truth in zip(scans, truths, strict=True):
            t1 = time.perf_counter()
            text = engine.read(scan)
            seconds.append(time.perf_counter() - t1)
            accuracies.append(char_accuracy(text, truth))
        cpu_s = _cpu_seconds() - cpu0
        result["engines"][name] = {
            "char_accuracy_mean": round(sum(accuracies) / len(accuracies), 4),
            "char_accuracy_min": round(min(accuracies), 4),
            "per_page": [round(a, 4) for a in accuracies],
            "pages_per_s": round(len(scans) / sum(seconds), 3),
            "seconds_per_page": round(sum(seconds) / len(seconds), 2),
            "cpu_seconds_per_page": round(cpu_s / len(seconds), 2),
            "first_use_s": round(load_s, 2),
        }
    # The loader's path, with the first engine: the scans as an image-only PDF, rendered at each resolution and
    # OCR'd by PdfLoader.
    buffer = io.BytesIO()
    scans[0].save(buffer, format="PDF", save_all=True, append_images=scans[1:], resolution=150)
    data = buffer.getvalue()
    for dpi in render_dpis:
        for name in engines[:1]:
            loader = PdfLoader(OcrOptions(engine=name, dpi=dpi, threads=threads))  # type: ignore[arg-type]
            t0 = time.perf_counter()
            doc = loader.load(Path("scans.pdf"), data)
            seconds_total = time.perf_counter() - t0
            texts = {s.page: s.text for s in doc.sections}
            accuracies = [char_accuracy(texts.get(i + 1, ""), t) for i, t in enumerate(truths)]
            result["engines"][name].setdefault("pdf_loader", {})[str(dpi)] = {
                "char_accuracy_mean": round(sum(accuracies) / len(accuracies), 4),
                "pages_per_s": round(len(truths) / seconds_total, 3),
                "pages_marked_ocr": sum(1 for s in doc.sections if s.ocr),
            }
    return result


def main(
    pdf: Path | None, pages: int, seed: int, engines: list[str], render_dpis: list[int], threads: int, out: Path
) -> None:
    pdf_path = pdf or fetch_pdf(PROJECT_ROOT / "data" / "cache")
    result = run(pdf_path, pages, seed, engines, render_dpis, threads)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "scans"}, indent=2))
