"""Read N TLS-RPT report files with `read_reports`; prints files per second and memory.

Usage: python benchmarks/reports_scale.py [N] [--domains D] [--tracemalloc]
(default N=10000, D=200)

The files are written to a temporary folder first (not timed): 70 % plain `.json`, 20 %
`.json.gz`, 10 % mails with a `application/tlsrpt+gzip` part, one UTC day each over 30 days,
for D domains, each with a few failure details, as a big reporter sends them. Printed: the
time to read and summarise them, files per second, the process's max RSS before and after
the read (ru_maxrss: the growth is what reading costs), the summary's size, and with
`--tracemalloc` the peak of Python allocations during the read (slower; its own pass).
Memory is flat when the RSS growth does not scale with N (try N=10000 and N=40000).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provisioner.reports import read_reports

REPORTERS = ("Google Inc.", "Microsoft Corporation", "Yahoo", "Mail.Ru", "Comcast")


def report(number: int, domains: int) -> bytes:
    domain = f"d{number % domains}.example"
    day = 1 + number % 30
    doc = {
        "organization-name": REPORTERS[number % len(REPORTERS)],
        "date-range": {
            "start-datetime": f"2026-11-{day:02d}T00:00:00Z",
            "end-datetime": f"2026-11-{day:02d}T23:59:59Z",
        },
        "contact-info": "smtp-tls-reporting@reporter.example",
        "report-id": f"r-{number}",
        "policies": [
            {
                "policy": {
                    "policy-type": "sts",
                    "policy-string": [
                        "version: STSv1",
                        "mode: testing",
                        "mx: mx.example",
                        "max_age: 86400",
                    ],
                    "policy-domain": domain,
                    "mx-host": ["mx.example"],
                },
                "summary": {
                    "total-successful-session-count": 1000 + number % 97,
                    "total-failure-session-count": number % 7,
                },
                "failure-details": [
                    {
                        "result-type": ("certificate-expired", "starttls-not-supported")[i % 2],
                        "sending-mta-ip": f"198.51.100.{i}",
                        "receiving-mx-hostname": f"mx{i}.{domain}",
                        "failed-session-count": 1,
                    }
                    for i in range(number % 7)
                ],
            }
        ],
    }
    return json.dumps(doc).encode()


def mail(data: bytes) -> bytes:
    encoded = base64.encodebytes(gzip.compress(data, mtime=0)).decode()
    return (
        "From: reporter@example.net\nSubject: Report Domain: x.example\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type="tlsrpt"; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nA report.\n"
        "--b\nContent-Type: application/tlsrpt+gzip\nContent-Transfer-Encoding: base64\n\n"
        f"{encoded}--b--\n"
    ).encode()


def write_files(folder: Path, count: int, domains: int) -> None:
    for number in range(count):
        data = report(number, domains)
        kind = number % 10
        if kind < 7:
            (folder / f"r{number}.json").write_bytes(data)
        elif kind < 9:
            (folder / f"r{number}.json.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / f"r{number}.eml").write_bytes(mail(data))


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("count", nargs="?", type=int, default=10_000)
    parser.add_argument("--domains", type=int, default=200)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        write_files(folder, args.count, args.domains)
        before = max_rss_mib()
        started, cpu_started = time.perf_counter(), time.process_time()
        result = read_reports([folder])
        summary = result.summary()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        after = max_rss_mib()
        print(f"files:            {args.count:,} ({args.domains} domains, 30 days)")
        print(f"reports read:     {result.reports:,} ({len(result.unreadable)} unreadable)")
        print(f"read + summarise: {elapsed:.2f} s ({args.count / elapsed:,.0f} files/s)")
        print(f"CPU time:         {cpu:.2f} s ({args.count / cpu:,.0f} files/s of CPU)")
        print(f"max RSS:          {before:.1f} MiB before, {after:.1f} MiB after")
        print(f"domains summed:   {len(summary)}")
        if args.tracemalloc:
            tracemalloc.start()
            read_reports([folder]).summary()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"tracemalloc peak: {peak / 1024 / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
