"""TLS-RPT reports (RFC 8460 section 4): read them from files, archives and mail, summarise.

`read_reports(paths)` reads everything it is given and never raises for a bad input (it is
listed in `ReportSet.unreadable`); `ReportSet.summary(...)` answers per policy domain.
"""

from provisioner.reports.model import DomainSummary, ReportSet, Unreadable
from provisioner.reports.reader import read_reports

__all__ = ["DomainSummary", "ReportSet", "Unreadable", "read_reports"]
