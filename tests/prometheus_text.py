"""Reading a Prometheus scrape in tests, with the client library's own text parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, frozenset[tuple[str, str]]]


class Scrape:
    """One scrape's samples, by sample name and labels; and its metric family names."""

    def __init__(self, text: str) -> None:
        self.families: set[str] = set()
        self.samples: dict[Sample, float] = {}
        for family in text_string_to_metric_families(text):
            # the parser strips ``_total`` from a counter's family name; the samples keep it
            self.families.add(family.name + ("_total" if family.type == "counter" else ""))
            for s in family.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value
        # the text format shows a counter's or histogram's creation time as a gauge of its own
        self.families -= {f for f in self.families if f.endswith("_created")}

    def value(self, name: str, **labels: str) -> float | None:
        """The sample ``name{labels}`` (exact labels), or ``None`` when absent."""
        return self.samples.get((name, frozenset(labels.items())))

    def total(self, name: str, **labels: str) -> float:
        """The sum of the samples ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= ls)

    def sample_names(self) -> set[str]:
        return {name for name, _ in self.samples}
