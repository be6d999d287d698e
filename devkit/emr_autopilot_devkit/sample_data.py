"""Deterministic restaurant inspection records for the red-violations sample job.

`generate_inspections` gives the CSV the demo uploads; `expected_red_counts` works out,
independently of the job's code, what the job must write; `generate_malformed_inspections`
gives the same records with the violation_type column renamed, so a run fails for real.
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from datetime import date, timedelta

COLUMNS = ("name", "inspection_date", "violation_type", "violation_description")
MALFORMED_COLUMNS = ("name", "inspection_date", "violation", "violation_description")

# Names exercise CSV quoting (commas, double quotes, apostrophes) and non-ASCII text.
RESTAURANTS = (
    "Café Olé",
    "Crêperie Saint-Malo",
    "Zürich Grill",
    "Ñandú Parrilla",
    "Sushi 寿司 Bar",
    "Smörgåsbord Stugan",
    "Pho Việt",
    "Łódź Pierogi House",
    "Burgers, Fries & Shakes",
    "Salt, Pepper, and Thyme",
    'The "Golden" Spoon',
    'Mama "Rosa\'s" Kitchen',
    "Joe's Diner",
    "O'Malley's Pub",
    "Taqueria El Güero",
    "Blue Moon Bistro",
    "Red Lantern Noodles",
    "Green Leaf Salads",
    "Harbor Fish Market",
    "Sunrise Bakery",
    "Midnight Ramen",
    "Piccolo Trattoria",
    "Curry Leaf",
    "The Daily Grind",
    "Bangkok Street Food",
    "Olive & Fig",
    "Seoul Kitchen",
    "Athena Gyros",
    "Le Petit Déjeuner",
    "Big Sky BBQ",
    "Noodle Box",
    "Casa de Tapas",
    "Brooklyn Bagels",
    "Tandoori Nights",
    "Falafel King",
    "Pizza Palace",
    "Dim Sum Garden",
    "Waffle Works",
    "Corner Deli",
    "Kebab Corner",
)

# These restaurants never get a RED violation, so the job's "only > 0" filter has work to do.
CLEAN_RESTAURANTS = frozenset({"Green Leaf Salads", "Sunrise Bakery", "Waffle Works"})

RED_DESCRIPTIONS = (
    "Food held at unsafe temperature",
    "Evidence of rodents, or live rodents present",
    "Raw meat stored above ready-to-eat food",
    'Hand sink blocked; "no soap" at station',
    "Employee handled food with bare hands",
)
BLUE_DESCRIPTIONS = (
    "Wiping cloths not stored in sanitizer",
    "Floor, walls or ceiling not clean",
    "Food handler card not posted",
    "Thermometer missing in cold-holding unit",
    'Lights not shielded over "prep" area',
)


def _records(rows: int, seed: int) -> list[tuple[str, str, str, str]]:
    rng = random.Random(seed)
    # Uneven weights: some restaurants are inspected far more often than others.
    weights = [rng.randint(1, 10) for _ in RESTAURANTS]
    start = date(2025, 1, 1)
    records = []
    for _ in range(rows):
        name = rng.choices(RESTAURANTS, weights)[0]
        day = start + timedelta(days=rng.randrange(365))
        roll = rng.random()
        if roll < 0.2 and name not in CLEAN_RESTAURANTS:
            violation_type, description = "RED", rng.choice(RED_DESCRIPTIONS)
        elif roll < 0.55:
            violation_type, description = "BLUE", rng.choice(BLUE_DESCRIPTIONS)
        else:
            violation_type, description = "", ""
        records.append((name, day.isoformat(), violation_type, description))
    return records


def _to_csv(header: tuple[str, ...], records: list[tuple[str, str, str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(records)
    return buffer.getvalue()


def generate_inspections(rows: int = 2000, seed: int = 7) -> str:
    """CSV text of `rows` inspection records; the same arguments always give the same text."""
    if rows < 0:
        raise ValueError("rows must be >= 0")
    return _to_csv(COLUMNS, _records(rows, seed))


def generate_malformed_inspections(rows: int = 2000, seed: int = 7) -> str:
    """The same records, but the violation_type column is called `violation`: the job must fail on it."""
    if rows < 0:
        raise ValueError("rows must be >= 0")
    return _to_csv(MALFORMED_COLUMNS, _records(rows, seed))


def expected_red_counts(csv_text: str) -> list[tuple[str, int]]:
    """What the job must write for `csv_text`: (name, RED count), count descending then name ascending.

    Written apart from the job's own code (csv.DictReader, header names compared case-insensitively)
    so the demo checks the job against a second opinion, not against itself.
    """
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"), newline=""))
    fields = {(field or "").strip().lower(): field for field in reader.fieldnames or []}
    if "name" not in fields or "violation_type" not in fields:
        raise ValueError(f"expected columns name and violation_type, found {reader.fieldnames}")
    name_field, type_field = fields["name"], fields["violation_type"]
    counts: Counter[str] = Counter()
    for record in reader:
        name = (record.get(name_field) or "").strip()
        if name and (record.get(type_field) or "").strip().upper() == "RED":
            counts[name] += 1
    return sorted(((name, count) for name, count in counts.items() if count > 0), key=lambda item: (-item[1], item[0]))


def parse_result_csv(csv_text: str) -> list[tuple[str, int]]:
    """Read the job's output back into (name, count) pairs, checking its header."""
    reader = csv.reader(io.StringIO(csv_text.lstrip("\ufeff"), newline=""))
    header = next(reader, None)
    if header != ["name", "total_red_violations"]:
        raise ValueError(f"unexpected result header {header!r}")
    return [(row[0], int(row[1])) for row in reader if row]
