"""Three business units' customer exports with known ground truth (seeded, deterministic).

retail (``;``, cp1252), appliances (``,``, UTF-8 with BOM) and theatre (tabs, UTF-8) each
hold an overlapping subset of the same people under their own customer numbers. A person's
rows carry their email in different case and spacing and their mobile in different
national and international formats; where a row lacks one, the cell holds what legacy
systems hold instead (``null``, ``test@test.com``, ``0000000000``, ``-1``, the shop's
switchboard). Planted on purpose:

- ``namesakes_elsewhere``: different people with the same name in other towns;
- ``namesakes_same_postcode``: different people with the same name and postcode and no
  shared identifier (father and son): the report suspects them, a person rejects them;
- ``switchboard_only``: people whose one row carries only the shops' switchboard number;
- ``unlinkable``: one person known to two units with nothing in common (new email, new
  phone) — the rules cannot merge them; they count against recall. ``planted`` are those
  with the same name and postcode in both: the report must find them.
"""

from __future__ import annotations

import csv as csv_module
import io
import random
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import phonenumbers

SWITCHBOARD = "01 40 20 50 50"  # the shops' switchboard, typed in when a customer gave none


def _words(text: str) -> list[str]:
    return text.split()


GIVEN = _words(
    "Hélène François Zoé Jérôme Gaëlle Céline Noël Anaïs Agnès Loïc Stéphane Amélie Benoît "
    "Renée André Marie Jean Pierre Sophie Nicolas Julie Thomas Camille Louis Emma Paul Claire "
    "Hugo Léa Lucas Chloé Antoine Manon Mathieu Laura Élodie Yannick Margaux Théo Inès"
)
FAMILY = [
    name.replace("_", " ")  # a space inside a name
    for name in _words(
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
        "Lefèvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefebvre "
        "Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier Faure Rousseau Blanc "
        "Guérin Müller Henry Roussel Perrin Morin Clément Gauthier Dumont Lopez Fontaine "
        "Chevalier Robin Dupré Kervella Le_Goff N'Diaye O'Neill Da_Silva"
    )
]
TOWNS = (
    ("75011", "Paris"),
    ("75015", "Paris"),
    ("75018", "Paris"),
    ("69003", "Lyon"),
    ("13006", "Marseille"),
    ("59000", "Lille"),
    ("33000", "Bordeaux"),
    ("44000", "Nantes"),
    ("31000", "Toulouse"),
    ("35000", "Rennes"),
    ("67000", "Strasbourg"),
    ("06000", "Nice"),
)
ABROAD = {  # country: (phone region, mobile prefix, town, postcode)
    "BE": ("BE", "+32 47", "Bruxelles", "1000"),
    "CH": ("CH", "+41 79", "Genève", "1201"),
    "GB": ("GB", "+44 79", "London", "SE1 7PB"),
}
STREETS = "rue des Lilas|avenue Jean Jaurès|boulevard Voltaire|rue de la Paix|impasse du Moulin"
TITLES = {  # person's title: how retail, appliances write it
    "Mr": ("M.", "Mr"),
    "Mrs": ("Mme", "Mrs"),
    "Ms": ("Mlle", "Ms"),
    "Dr": ("Dr", "Dr."),
}


@dataclass(frozen=True)
class Person:
    key: int
    title: str
    given: str
    family: str
    birth: date
    email: str  # canonical: lower-case
    mobile: str  # E.164
    landline: str | None
    street: str
    postcode: str
    town: str
    country: str


@dataclass(frozen=True)
class Row:
    unit: str
    person: int
    number: str  # the unit's own customer number
    cells: dict[str, str]


@dataclass(frozen=True)
class Unit:
    name: str
    system: str
    id_type: str
    id_column: str
    columns: list[str]
    delimiter: str
    encoding: str
    mapping: str


UNITS = {
    "retail": Unit(
        "retail",
        "retail-crm",
        "retail_customer_no",
        "cust_no",
        _words(
            "cust_no civility first_name last_name email mobile "
            "home_phone street zip city country birth_date last_update"
        ),
        ";",
        "cp1252",
        """
csv: {delimiter: ";", encoding: cp1252}
channel: store
external_ids: [{column: cust_no, type: retail_customer_no}]
name: {title: civility, given_name: first_name, family_name: last_name}
emails: [{column: email}]
phones: [{column: mobile, use: mobile}, {column: home_phone, use: home}]
addresses: [{lines: [street], postal_code: zip, locality: city, country: country}]
date_of_birth: {column: birth_date, format: "%d/%m/%Y"}
last_modified: {column: last_update, format: "%Y-%m-%d %H:%M:%S", timezone: Europe/Paris}
""",
    ),
    "appliances": Unit(
        "appliances",
        "appliances-sap",
        "appliances_customer_no",
        "CustomerNumber",
        _words(
            "CustomerNumber Title FirstName LastName Email Phone "
            "AddressLine1 AddressLine2 PostCode Town Country DateOfBirth Modified"
        ),
        ",",
        "utf-8-sig",
        """
csv: {encoding: utf-8-sig}
channel: phone
external_ids: [{column: CustomerNumber, type: appliances_customer_no}]
name: {title: Title, given_name: FirstName, family_name: LastName}
emails: [{column: Email}]
phones: [{column: Phone, use: mobile}]
addresses:
  - {lines: [AddressLine1, AddressLine2], postal_code: PostCode, locality: Town, country: Country}
date_of_birth: {column: DateOfBirth}
last_modified: {column: Modified}
""",
    ),
    "theatre": Unit(
        "theatre",
        "boxoffice",
        "theatre_patron_no",
        "patron_id",
        _words("patron_id given family e-mail tel address postcode city"),
        "\t",
        "utf-8",
        """
csv: {delimiter: "\\t", encoding: utf-8}
channel: web
external_ids: [{column: patron_id, type: theatre_patron_no}]
name: {given_name: given, family_name: family}
emails: [{column: e-mail}]
phones: [{column: tel, use: mobile}]
addresses: [{lines: [address], postal_code: postcode, locality: city, default_country: FR}]
""",
    ),
}


@dataclass(frozen=True)
class ExportFiles:
    unit: Unit
    csv: Path
    mapping: Path


@dataclass
class LegacyExports:
    people: dict[int, Person]
    rows: list[Row]
    unlinkable: list[int] = field(default_factory=list)
    planted: list[int] = field(default_factory=list)
    namesakes_same_postcode: list[tuple[int, int]] = field(default_factory=list)
    namesakes_elsewhere: list[tuple[int, int]] = field(default_factory=list)
    switchboard_only: list[int] = field(default_factory=list)

    def truth(self) -> dict[tuple[str, str], int]:
        """(external id type, customer number) → person."""
        return {(UNITS[r.unit].id_type, r.number): r.person for r in self.rows}

    def rows_of(self, person: int) -> list[Row]:
        return [r for r in self.rows if r.person == person]

    def write(self, folder: Path, units: dict[str, Unit] | None = None) -> list[ExportFiles]:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for unit in (units or UNITS).values():
            text = io.StringIO()
            writer = csv_module.writer(text, delimiter=unit.delimiter, lineterminator="\r\n")
            writer.writerow(unit.columns)
            writer.writerows(
                [r.cells[c] for c in unit.columns] for r in self.rows if r.unit == unit.name
            )
            csv = folder / f"{unit.name}.csv"
            csv.write_bytes(text.getvalue().encode(unit.encoding))
            mapping = folder / f"{unit.name}.yaml"
            mapping.write_text(unit.mapping)
            written.append(ExportFiles(unit, csv, mapping))
        return written


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isalnum() and ord(c) < 128).lower()


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.numbers: set[str] = set()
        self.emails: set[str] = set()

    def phone(self, region: str, prefix: str) -> str:
        while True:
            digits = "".join(self.rng.choice("0123456789") for _ in range(8))
            number = phonenumbers.parse(prefix.replace(" ", "") + digits, region)
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if phonenumbers.is_valid_number(number) and e164 not in self.numbers:
                self.numbers.add(e164)
                return e164

    def email(self, given: str, family: str) -> str:
        domain = self.rng.choice(("example.fr", "example.com", "mail.example.org"))
        base = f"{_ascii(given)}.{_ascii(family)}"
        for n in range(1000):
            email = f"{base}{n or ''}@{domain}"
            if email not in self.emails:
                self.emails.add(email)
                return email
        raise AssertionError("no free email")

    def person(self, key: int, given: str, family: str) -> Person:
        rng = self.rng
        abroad = rng.random() < 0.05
        if abroad:
            country = rng.choice(sorted(ABROAD))
            region, prefix, town, postcode = ABROAD[country]
            mobile = self.phone(region, prefix[:-1] if region != "GB" else prefix)
        else:
            country = "FR"
            postcode, town = rng.choice(TOWNS)
            mobile = self.phone("FR", rng.choice(("+33 6", "+33 7")))
        landline = self.phone("FR", f"+33 {rng.randint(1, 5)}") if rng.random() < 0.3 else None
        return Person(
            key=key,
            title=rng.choice(sorted(TITLES)),
            given=given,
            family=family,
            birth=date(1940, 1, 1) + timedelta(days=rng.randint(0, 65 * 365)),
            email=self.email(given, family),
            mobile=mobile,
            landline=landline,
            street=f"{rng.randint(1, 140)} {rng.choice(STREETS.split('|'))}",
            postcode=postcode,
            town=town,
            country=country,
        )

    def written_phone(self, e164: str) -> str:
        number = phonenumbers.parse(e164)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        international = phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
        forms = [e164, international, "00" + e164[1:], "00 " + international[1:]]
        if phonenumbers.region_code_for_number(number) == "FR":
            digits = national.replace(" ", "")
            forms += [
                national,
                digits,
                ".".join(digits[i : i + 2] for i in range(0, 10, 2)),
                "-".join(digits[i : i + 2] for i in range(0, 10, 2)),
                international.replace("+33 ", "+33 (0)"),
            ]
        elif phonenumbers.region_code_for_number(number) == "GB":
            forms.append(international.replace("+44 ", "+44 (0)"))
        return self.rng.choice(forms)

    def written_email(self, email: str) -> str:
        local, domain = email.split("@")
        return self.rng.choice(
            (
                email,
                email.upper(),
                f"{local.title()}@{domain.capitalize()}",
                f"  {email} ",
                f" {local.capitalize()}@{domain}",
            )
        )


def _choose_patterns(rng: random.Random, count: int) -> list[str]:
    """Which identifiers each of a person's rows carries; ≥2 rows → one carries both."""
    patterns = rng.choices(("both", "email", "phone"), weights=(70, 15, 15), k=count)
    if count > 1 and "both" not in patterns:
        patterns[0] = "both"
    return patterns


def generate(people: int = 400, seed: int = 20260301) -> LegacyExports:
    gen = _Generator(seed)
    rng = gen.rng
    names = rng.sample([(g, f) for g in GIVEN for f in FAMILY], people)
    folks = {k: gen.person(k, *names[k]) for k in range(people)}
    memberships = {
        k: [
            u
            for u, p in (("retail", 0.65), ("appliances", 0.5), ("theatre", 0.4))
            if rng.random() < p
        ]
        or ["retail"]
        for k in folks
    }
    exports = LegacyExports(folks, [])
    # The planted cases live in France: the theatre's export has no country column.
    keys = iter(rng.sample(sorted(k for k, p in folks.items() if p.country == "FR"), 15))

    # Namesakes: the same name, a different person; elsewhere, or at the same postcode.
    for same_postcode in [False] * 8 + [True] * 2:
        original = folks[next(keys)]
        twin_key = len(folks)
        twin = gen.person(twin_key, original.given, original.family)
        if same_postcode:
            twin = replace(twin, postcode=original.postcode, town=original.town, country="FR")
            exports.namesakes_same_postcode.append((original.key, twin_key))
        else:
            while (twin.postcode, twin.country) == (original.postcode, original.country):
                twin = gen.person(twin_key, original.given, original.family)
            exports.namesakes_elsewhere.append((original.key, twin_key))
        folks[twin_key] = twin
        memberships[original.key] = ["retail"]
        memberships[twin_key] = ["appliances", "theatre"][: rng.randint(1, 2)]

    # One person, two units, nothing in common; the first two at the same address.
    alias: dict[int, Person] = {}
    for n in range(5):
        key = next(keys)
        exports.unlinkable.append(key)
        memberships[key] = ["retail", "theatre"] if n % 2 == 0 else ["appliances", "theatre"]
        moved = gen.person(key, folks[key].given, folks[key].family)
        if n < 2:
            exports.planted.append(key)
            moved = replace(moved, postcode=folks[key].postcode, town=folks[key].town, country="FR")
        else:
            while moved.postcode == folks[key].postcode:
                moved = gen.person(key, folks[key].given, folks[key].family)
        alias[key] = moved

    # Legacy CRMs know some people twice, under two numbers.
    for key in rng.sample(sorted(k for k in folks if k not in alias), 12):
        if "retail" in memberships[key]:
            memberships[key] = [*memberships[key], "retail"]

    # Known to one unit only by the switchboard number a clerk typed in: without the
    # switchboard in the rules, these would all become one customer.
    special = {*alias, *(k for pair in exports.namesakes_elsewhere for k in pair)}
    special |= {k for pair in exports.namesakes_same_postcode for k in pair}
    alone = sorted(k for k, units in memberships.items() if len(units) == 1 and k not in special)
    exports.switchboard_only = rng.sample(alone, 5)

    counters = {"retail": 100_000, "appliances": 20_000, "theatre": 5_000}
    for key, units in memberships.items():
        patterns = _choose_patterns(rng, len(units))
        if key in exports.switchboard_only:
            patterns = ["switchboard"]
        for i, (unit, pattern) in enumerate(zip(units, patterns, strict=True)):
            who = alias[key] if key in alias and i == 1 else folks[key]
            counters[unit] += rng.randint(1, 9)
            exports.rows.append(_row(gen, unit, who, counters[unit], pattern))
    exports.people = folks
    rng.shuffle(exports.rows)
    return exports


def _junk_email(rng: random.Random) -> str:
    return rng.choice(("", "", "null", "NULL", "n/a", "test@test.com", "none"))


def _junk_phone(rng: random.Random) -> str:
    return rng.choice(("", "", "0000000000", "-1", SWITCHBOARD, "00 00 00 00 00"))


def _row(gen: _Generator, unit: str, p: Person, serial: int, pattern: str) -> Row:
    rng = gen.rng
    email = gen.written_email(p.email) if pattern in ("both", "email") else _junk_email(rng)
    phone = gen.written_phone(p.mobile) if pattern in ("both", "phone") else _junk_phone(rng)
    if pattern == "switchboard":
        email, phone = rng.choice(("", "null", "n/a")), SWITCHBOARD
    modified = datetime(2015, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 5_000_000))
    if unit == "retail":
        number = f"R{serial}"
        cells = {
            "cust_no": number,
            "civility": TITLES[p.title][0],
            "first_name": p.given,
            "last_name": p.family,
            "email": email,
            "mobile": phone,
            "home_phone": gen.written_phone(p.landline) if p.landline else "",
            "street": p.street,
            "zip": p.postcode,
            "city": p.town,
            "country": p.country,
            "birth_date": p.birth.strftime("%d/%m/%Y"),
            "last_update": modified.strftime("%Y-%m-%d %H:%M:%S"),
        }
    elif unit == "appliances":
        number = f"AP-{serial}"
        cells = {
            "CustomerNumber": number,
            "Title": TITLES[p.title][1],
            "FirstName": p.given,
            "LastName": p.family.upper() if rng.random() < 0.5 else p.family,
            "Email": email,
            "Phone": phone,
            "AddressLine1": p.street,
            "AddressLine2": "",
            "PostCode": p.postcode.lower(),
            "Town": p.town,
            "Country": p.country.lower(),
            "DateOfBirth": p.birth.isoformat(),
            "Modified": modified.isoformat().replace("+00:00", "Z"),
        }
    else:
        number = f"T{serial}"
        plain = rng.random() < 0.5  # the box office's old system dropped accents
        cells = {
            "patron_id": number,
            "given": _plain(p.given) if plain else p.given,
            "family": _plain(p.family).upper() if plain else p.family,
            "e-mail": email,
            "tel": phone,
            "address": p.street,
            "postcode": p.postcode.replace("SE1 7PB", "se17pb"),
            "city": p.town,
        }
    return Row(unit, p.key, number, cells)


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# --- Issue 16: three UK units exported the way real systems write them ------------------
#
# shop (commas): the whole name in one column ("Dr Aisha Baker", "Turner, Thomas",
# "AISHA BAKER"), a postcode and no street; service (semicolons): split names, street lines;
# club (tabs): "Family, Given" names and the whole address in one cell. Phones come in six
# forms ("+447…", "+44 7…", "0044 7…", "07…", "(07…) …-…", "+44 (0)7…"); emails padded and
# upper-cased; junk where a value is missing. Planted: households (two people, one landline
# and one address, each their own email and mobile) and a company switchboard typed in as
# the work phone of several staff, which nobody configured as shared.

UK_SWITCHBOARD = "+442079460000"
UK_GIVEN = _words(
    "Aisha Thomas Olivia George Priya Oliver Amelia Harry Isla Jack Ava Noah Mia Leo Grace "
    "Arthur Freya Oscar Lily Alfie Ella Charlie Sophie Jacob Ruby Henry Evie Theo Chloe Finley "
    "Zara Ethan Hannah Mohammed Imogen Samuel Niamh Rhys Siobhan Kwame"
)
UK_FAMILY = [
    name.replace("_", " ")
    for name in _words(
        "Baker Turner Patel Smith Jones Williams Taylor Brown Davies Evans Wilson Thompson "
        "Johnson Roberts Walker Wright Robinson Wood Hughes Green Hall Lewis Harris Clarke "
        "Jackson Khan Ali Hussain O'Brien McDonald Murphy Kelly Singh Begum Okafor Nowak "
        "Campbell Stewart Morgan Price Ahmed Chen Lee Scott Young Mitchell Doyle"
    )
]
UK_PLACES = (
    ("SW1A 1AA", "London", "+44 20 7"),
    ("EC1A 1BB", "London", "+44 20 3"),
    ("M1 1AE", "Manchester", "+44 161 4"),
    ("LS1 4AP", "Leeds", "+44 113 4"),
    ("B33 8TH", "Birmingham", "+44 121 4"),
    ("BS1 5TR", "Bristol", "+44 117 4"),
    ("G1 1XQ", "Glasgow", "+44 141 4"),
    ("CF10 1EP", "Cardiff", "+44 29 20"),
)
UK_STREETS = "High Street|Station Road|Church Lane|Victoria Road|Green Lane|Mill Road"

LAYOUTS = {
    "shop": Unit(
        "shop",
        "shop-till",
        "shop_account",
        "Account",
        _words("Account Customer_Name Email Mobile Home_Tel Post_Code DOB"),
        ",",
        "utf-8",
        """
region: GB
channel: store
external_ids: [{column: Account, type: shop_account}]
name: {full_name: Customer_Name}
emails: [{column: Email}]
phones: [{column: Mobile, use: mobile}, {column: Home_Tel, use: home}]
addresses: [{postal_code: Post_Code, country: country}]
constants: {country: GB}
date_of_birth: {column: DOB, format: "%d/%m/%Y"}
""",
    ),
    "service": Unit(
        "service",
        "service-desk",
        "service_customer_no",
        "CustNo",
        _words("CustNo Title Forename Surname Email Phone Work_Tel Address1 Town Postcode"),
        ";",
        "utf-8",
        """
region: GB
csv: {delimiter: ";"}
channel: phone
external_ids: [{column: CustNo, type: service_customer_no}]
name: {title: Title, given_name: Forename, family_name: Surname}
emails: [{column: Email}]
phones: [{column: Phone, use: mobile}, {column: Work_Tel, use: work}]
addresses:
  - {lines: [Address1], locality: Town, postal_code: Postcode, default_country: GB}
""",
    ),
    "club": Unit(
        "club",
        "club-members",
        "club_member_no",
        "member_id",
        _words("member_id name email tel home address"),
        "\t",
        "utf-8",
        """
region: GB
csv: {delimiter: "\\t"}
channel: web
external_ids: [{column: member_id, type: club_member_no}]
name: {full_name: name}
emails: [{column: email, use: personal}]
phones: [{column: tel, use: mobile}, {column: home, use: home}]
addresses: [{single_line: address, default_country: GB}]
""",
    ),
}


@dataclass
class LayoutExports(LegacyExports):
    households: list[tuple[int, int]] = field(default_factory=list)
    staff: list[int] = field(default_factory=list)  # work phone: the switchboard
    imported_phone_forms: dict[int, set[str]] = field(default_factory=dict)

    def truth(self) -> dict[tuple[str, str], int]:
        return {(LAYOUTS[r.unit].id_type, r.number): r.person for r in self.rows}

    def write(self, folder: Path, units: dict[str, Unit] | None = None) -> list[ExportFiles]:
        return super().write(folder, LAYOUTS)


def uk_phone_forms(e164: str) -> list[str]:
    """Six ways people write one UK number."""
    number = phonenumbers.parse(e164)
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    digits = "0" + e164[3:]
    return [
        e164,
        international,
        "00" + international[1:],
        national,
        f"({digits[:4]}) {digits[4:7]}-{digits[7:]}",
        international.replace("+44 ", "+44 (0)"),
    ]


class _UkGenerator(_Generator):
    def uk_person(self, key: int, given: str, family: str) -> Person:
        rng = self.rng
        postcode, town, area = rng.choice(UK_PLACES)
        digits = 8 - len(area.replace(" ", "")) + 5
        landline = self.phone("GB", area, digits) if rng.random() < 0.3 else None
        return Person(
            key=key,
            title=rng.choice(sorted(TITLES)),
            given=given,
            family=family,
            birth=date(1940, 1, 1) + timedelta(days=rng.randint(0, 65 * 365)),
            email=self.email(given, family),
            mobile=self.phone("GB", rng.choice(("+44 74", "+44 75", "+44 78", "+44 79"))),
            landline=landline,
            street=f"{rng.randint(1, 140)} {rng.choice(UK_STREETS.split('|'))}",
            postcode=postcode,
            town=town,
            country="GB",
        )

    def phone(self, region: str, prefix: str, length: int = 8) -> str:
        while True:
            digits = "".join(self.rng.choice("0123456789") for _ in range(length))
            number = phonenumbers.parse(prefix.replace(" ", "") + digits, region)
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if (
                phonenumbers.is_valid_number(number)
                and e164 not in self.numbers
                and e164 != UK_SWITCHBOARD
            ):
                self.numbers.add(e164)
                return e164

    def written_phone(self, e164: str) -> str:
        return self.rng.choice(uk_phone_forms(e164))


def generate_layouts(people: int = 300, seed: int = 20260316) -> LayoutExports:
    gen = _UkGenerator(seed)
    rng = gen.rng
    names = rng.sample([(g, f) for g in UK_GIVEN for f in UK_FAMILY], people)
    folks = {k: gen.uk_person(k, *names[k]) for k in range(people)}
    exports = LayoutExports(folks, [])
    # Households: a second person at the first's address, on the first's landline.
    for first in rng.sample(sorted(folks), 15):
        p = folks[first]
        landline = p.landline or gen.phone("GB", "+44 20 8", 7)
        folks[first] = p = replace(p, landline=landline)
        key = len(folks)
        given = rng.choice([g for g in UK_GIVEN if g != p.given])
        other = replace(gen.uk_person(key, given, p.family), landline=landline)
        folks[key] = replace(other, street=p.street, postcode=p.postcode, town=p.town)
        exports.households.append((first, key))
    household = {k for pair in exports.households for k in pair}
    exports.staff = rng.sample(sorted(set(folks) - household), 8)
    memberships = {
        k: [u for u, p in (("shop", 0.65), ("service", 0.5), ("club", 0.4)) if rng.random() < p]
        or ["shop"]
        for k in folks
    }
    for k in exports.staff:
        if "service" not in memberships[k]:
            memberships[k].append("service")
    for k in household:  # the landline is on their records
        if "shop" not in memberships[k]:
            memberships[k].append("shop")
    counters = {"shop": 10_000, "service": 50_000, "club": 900}
    for key, units in memberships.items():
        patterns = _choose_patterns(rng, len(units))
        for unit, pattern in zip(units, patterns, strict=True):
            counters[unit] += rng.randint(1, 9)
            row = _layout_row(gen, unit, folks[key], counters[unit], pattern, key in exports.staff)
            exports.rows.append(row)
            for cell in row.cells.values():
                if cell and cell[-1].isdigit() and cell in uk_phone_forms(folks[key].mobile):
                    exports.imported_phone_forms.setdefault(key, set()).add(cell)
    exports.people = folks
    rng.shuffle(exports.rows)
    return exports


def _uk_junk_email(rng: random.Random) -> str:
    return rng.choice(("", "", "N/A", "null", "test@test.com", "none"))


def _uk_junk_phone(rng: random.Random) -> str:
    return rng.choice(("", "", "0000000000", "-1", "n/a", "00000 000000"))


def _layout_row(
    gen: _UkGenerator, unit: str, p: Person, serial: int, pattern: str, staff: bool
) -> Row:
    rng = gen.rng
    email = gen.written_email(p.email) if pattern in ("both", "email") else _uk_junk_email(rng)
    mobile = gen.written_phone(p.mobile) if pattern in ("both", "phone") else _uk_junk_phone(rng)
    home = gen.written_phone(p.landline) if p.landline else ""
    if unit == "shop":
        number = f"S{serial}"
        full = rng.choice(
            (
                f"{p.title} {p.given} {p.family}",
                f"{p.family}, {p.given}",
                f"{p.given} {p.family}".upper(),
                f"{p.given} {p.family}",
            )
        )
        cells = {
            "Account": number,
            "Customer_Name": full,
            "Email": email,
            "Mobile": mobile,
            "Home_Tel": home,
            "Post_Code": p.postcode if rng.random() < 0.9 else p.postcode.lower(),
            "DOB": p.birth.strftime("%d/%m/%Y"),
        }
    elif unit == "service":
        number = f"SV-{serial}"
        cells = {
            "CustNo": number,
            "Title": TITLES[p.title][1],
            "Forename": p.given,
            "Surname": p.family,
            "Email": email,
            "Phone": mobile,
            "Work_Tel": gen.written_phone(UK_SWITCHBOARD) if staff else "",
            "Address1": p.street,
            "Town": p.town,
            "Postcode": p.postcode,
        }
    else:
        number = f"M{serial}"
        cells = {
            "member_id": number,
            "name": f"{p.family}, {p.given}",
            "email": email,
            "tel": mobile,
            "home": home,
            "address": f"{p.street}, {p.town}, {p.postcode}",
        }
    return Row(unit, p.key, number, {k.replace(" ", "_"): v for k, v in cells.items()})
