"""J-LIS (地方公共団体情報システム機構) as the platform meets it: a resident register that answers
``JLIS_Q_<run>.dat`` with ``JLIS_A_<run>.dat``.

**The register** (:class:`ResidentRegister`) holds every person of the population as the
basic resident register would: the name in kanji and in full-width katakana, sex, birth date,
address and the individual number. It differs from the insurer's records the way real data
does, and the differences are planted deterministically (hashes of seed and member key) on
the members the platform will ask about:

=====================  ===========================================================  ========
difference             in the register                                              answer
=====================  ===========================================================  ========
half-width katakana    every reading in full-width katakana (the insurer: ｶﾀｶﾅ)      match
spaces                 family and given name run together or split by a half-width  match
                       space (the insurer: U+3000)
variant kanji          an old or variant form of a character (髙/高, 﨑/崎, 齋/斎, …)  match
                       chosen from jntajis-python's MJ tables
house number           ``1-2-3``, ``１－２－３`` or ``一丁目二番三号`` for ``１丁目２番３号``  match
recent move            the new address (the insurer still has the old one)          no match
birth-date typo        the true date (the insurer's is a day off)                   no match
cannot be found        no resident at all (moved abroad, 住民票 removed)            no match
duplicate              a second resident with the same four facts (二重登録)           several
damaged answer         the answer record's number has a wrong check digit           match,
                                                                                    invalid
=====================  ===========================================================  ========

**Matching** happens here, as at J-LIS, on all four facts after J-LIS's own normalisation
(:func:`canonical_facts`, written apart from the platform's :mod:`renkei.matching`): exactly
one resident gives the number, several give "several candidates", none gives "no match". A
resident who agrees on three facts is not a match.

**What the sandbox planted** (:class:`MyNumberScenario`) ties the register to the pension
service's file: it knows whom the platform will ask and returns the reconciliation counts a
correct platform must print for the first run and for the run after the pension service's
supplementary file.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jntajis

from renkei.fixedwidth.reader import FixedWidthFile
from renkei.fixedwidth.writer import write_file
from renkei.identifiers import my_number_with_check_digit
from renkei.layout import load_layout
from renkei_sandbox.pension import PensionService, rank
from renkei_sandbox.population import Person, Population, parse_month

INQUIRY_LAYOUT, ANSWER_LAYOUT = "jlis_inquiry", "jlis_answer"
ANSWER_ID = "JLIS_ANSWER"
SENDER_CODE = "99200001"          # 送信元コード of J-LIS (fictitious)
ONE_MATCH, SEVERAL, NO_MATCH = "1", "2", "3"

# How many of the asked members get each planted difference.
PLANT_COUNTS = {"duplicate": 2, "moved": 2, "birth_date_typo": 2, "unfindable": 2, "damaged_answer": 1}
# Share of the asked members whose register entry is written differently but still matches.
SHARE_SPACES = 0.15
SHARE_HOUSE_NUMBER = 0.15
SHARE_VARIANT = 0.5               # of those whose name has a character with a variant

# --- J-LIS's own normalisation --------------------------------------------------------------
_LEVEL1 = (0x889F, 0x9872)        # Shift_JIS codes of JIS level-1 kanji: never folded
_FAMILY_REGISTER = jntajis.MJShrinkSchemeCombo.MOJ_FAMILY_REGISTER_ACT_RELATED_NOTICE
_KANJI_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九")}
_WS = re.compile(r"[\s\u3000・]+")
# A house number is a run of numbers (digits or kanji numerals, never mixed) joined by
# 丁目/番地/番/の/hyphens at the end of the address.
_UNIT = "(?:[0-9]+|[〇一二三四五六七八九十百]+)"
_HOUSE_TAIL = re.compile(f"((?:{_UNIT}(?:丁目|番地の|番地|番の|番|号|の|-))*{_UNIT}(?:丁目|番地|番|号)?)$")
_HOUSE_PARTS = re.compile(_UNIT)
_HYPHENS = re.compile("[‐‑‒–—―−ー－ｰ]")


def _level1(ch: str) -> bool:
    try:
        code = ch.encode("cp932")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and _LEVEL1[0] <= int.from_bytes(code, "big") <= _LEVEL1[1]


@cache
def variant_table() -> dict[str, str]:
    """Variant character -> everyday (JIS level-1) character, from jntajis's family-register
    tables: a variant is folded only when the tables name exactly one everyday form for it."""
    table: dict[str, str] = {}
    for cp in (*range(0x3400, 0xA000), *range(0xF900, 0xFB00), *range(0x20000, 0x2B000)):
        ch = chr(cp)
        if _level1(ch):
            continue
        try:
            candidates = jntajis.mj_shrink_candidates(ch, _FAMILY_REGISTER)
        except Exception:  # noqa: BLE001 - characters outside the MJ tables
            continue
        everyday = [c for c in candidates if c != ch and _level1(c)]
        if len(everyday) == 1:
            table[ch] = everyday[0]
    return table


# Old and variant forms people really have in their registered names. The tables also link
# characters that are merely alike (橋/槁, 香/皀); planting only these keeps the register
# realistic, while folding still follows the tables (a planted variant the tables did not
# fold would show up as an unexpected "no match" in the tests).
NAME_VARIANTS = "髙﨑嵜齋邊邉濱濵澤齊桒德眞實淸靑郞聰惠廣國榮來櫻澁藏彌傳壽條與邨"


@cache
def variants_of() -> dict[str, list[str]]:
    """Everyday character -> the variants of NAME_VARIANTS the tables fold to it."""
    out: dict[str, list[str]] = {}
    for variant, everyday in sorted(variant_table().items()):
        if variant in NAME_VARIANTS:
            out.setdefault(everyday, []).append(variant)
    return out


def _fold(text: str) -> str:
    table = variant_table()
    return "".join(table.get(c, c) for c in text)


def _number(text: str) -> int:
    if text.isdigit() and text.isascii():
        return int(text)
    total = current = 0
    for c in text:
        if c in "十百":
            total += (current or 1) * (10 if c == "十" else 100)
            current = 0
        else:
            current = current * 10 + _KANJI_DIGIT[c]
    return total + current


def canonical_name(text: str) -> str:
    return _fold(_WS.sub("", unicodedata.normalize("NFKC", text)))


def canonical_kana(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    # hiragana -> katakana: the two blocks are 0x60 apart
    text = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)
    return _WS.sub("", text.replace("-", "ー"))


def canonical_address(text: str) -> str:
    """Town part as written (folded), house number as the tuple of its numbers."""
    text = _fold(_WS.sub("", unicodedata.normalize("NFKC", text))).replace("ヶ", "ケ")
    text = re.sub(r"(?<=[0-9])" + _HYPHENS.pattern + r"(?=[0-9])", "-", text)
    m = _HOUSE_TAIL.search(text)
    if not m:
        return text
    numbers = [_number(n) for n in _HOUSE_PARTS.findall(m.group(1))]
    return text[:m.start()] + "-".join(map(str, numbers))


def canonical_facts(name_kanji: str, name_kana: str, sex: str, birth_date: dt.date,
                    address: str) -> tuple[str, str, str, dt.date, str]:
    return (canonical_name(name_kanji), canonical_kana(name_kana), sex, birth_date,
            canonical_address(address))


# --- the register -------------------------------------------------------------------------
@dataclass(slots=True)
class Resident:
    name_kanji: str
    name_kana: str
    sex: str
    birth_date: dt.date
    address: str
    my_number: str
    person_key: str | None = None     # the population member this resident is (None: a duplicate)


_HOUSE_CHOME = re.compile(r"([０-９]+)丁目([０-９]+)番([０-９]+)号$")
_HOUSE_BANCHI = re.compile(r"([０-９]+)番地([０-９]+)$")


def _half(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _kanji_numeral(n: int) -> str:
    digits = "〇一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + ("" if ones == 0 else digits[ones])


def rewrite_house_number(address: str, style: int) -> str | None:
    """The same address with its house number written another way (None: no house number)."""
    m = _HOUSE_CHOME.search(address) or _HOUSE_BANCHI.search(address)
    if not m:
        return None
    nums = [int(_half(g)) for g in m.groups()]
    base = address[:m.start()]
    if style == 0:
        return base + "-".join(map(str, nums))
    if style == 1:
        return base + "－".join(m.groups())
    if len(nums) == 3:
        return base + f"{_kanji_numeral(nums[0])}丁目{_kanji_numeral(nums[1])}番{_kanji_numeral(nums[2])}号"
    return base + f"{_kanji_numeral(nums[0])}番地{_kanji_numeral(nums[1])}"


@dataclass
class Plants:
    """Who got which planted difference (member keys)."""

    duplicate: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    birth_date_typo: list[str] = field(default_factory=list)
    unfindable: list[str] = field(default_factory=list)
    damaged_answer: list[str] = field(default_factory=list)
    spaces: list[str] = field(default_factory=list)
    house_number: list[str] = field(default_factory=list)
    variant_kanji: list[str] = field(default_factory=list)

    @property
    def no_match(self) -> list[str]:
        return self.moved + self.birth_date_typo + self.unfindable


class ResidentRegister:
    """Residents, indexed by their four facts after J-LIS's normalisation.

    ``damaged_keys``: members whose answer record is damaged on the way (wrong check digit).
    """

    def __init__(self, residents: Iterable[Resident], damaged_keys: Iterable[str] = ()):
        self.residents = list(residents)
        self.damaged_numbers: set[str] = set()
        self._damaged_keys = set(damaged_keys)
        self._index: dict[tuple, list[Resident]] = {}
        for r in self.residents:
            key = canonical_facts(r.name_kanji, r.name_kana, r.sex, r.birth_date, r.address)
            self._index.setdefault(key, []).append(r)

    @property
    def extra_numbers(self) -> set[str]:
        """Numbers of residents who are nobody in the population (planted duplicates)."""
        return {r.my_number for r in self.residents if r.person_key is None}

    @classmethod
    def from_population(cls, population: Population, plants: Plants,
                        extra_numbers: Iterable[str] = ()) -> ResidentRegister:
        """Everyone in the population, with the differences of ``plants``."""
        taken = {p.my_number for p in population.persons} | set(extra_numbers)
        seed = population.seed
        homes = sorted({(h.postal_code, h.address) for h in population.households})
        sets = {name: set(keys) for name, keys in vars(plants).items()}
        residents = []
        for person in population.persons:
            k = person.key
            if k in sets["unfindable"]:
                continue
            name, kana = person.name_kanji, _full_width_reading(person.name_kana)
            birth, address = person.birth_date, person.household.address
            if k in sets["spaces"]:
                name = name.replace("\u3000", "" if rank(seed, "spaces", k)[0] % 2 else " ")
            if k in sets["variant_kanji"]:
                name = _with_variant(name, seed, k)
            if k in sets["house_number"]:
                address = rewrite_house_number(address, rank(seed, "house", k)[0] % 3) or address
            if k in sets["moved"]:
                address = _another_home(homes, address, seed, k)
            if k in sets["birth_date_typo"]:
                birth = _typo(birth, seed, k)
            residents.append(Resident(name, kana, person.sex, birth, address, person.my_number, k))
            if k in sets["duplicate"]:
                number = _fresh_number(seed, k, taken)
                taken.add(number)
                residents.append(Resident(name, kana, person.sex, birth, address, number))
        return cls(residents, damaged_keys=plants.damaged_answer)

    def lookup(self, name_kanji: str, name_kana: str, sex: str, birth_date: dt.date,
               address: str) -> list[Resident]:
        """Residents agreeing on all four facts after J-LIS's normalisation."""
        return list(self._index.get(canonical_facts(name_kanji, name_kana, sex, birth_date, address), ()))

    def answer_record(self, inquiry_id: str, found: list[Resident]) -> dict[str, object]:
        if len(found) == 1:
            number = found[0].my_number
            if found[0].person_key in self._damaged_keys:
                number = _damaged(number)
                self.damaged_numbers.add(number)
            return {"inquiry_id": inquiry_id, "result": ONE_MATCH, "candidate_count": 1, "my_number": number}
        if found:
            return {"inquiry_id": inquiry_id, "result": SEVERAL, "candidate_count": min(len(found), 99),
                    "my_number": None}
        return {"inquiry_id": inquiry_id, "result": NO_MATCH, "candidate_count": 0, "my_number": None}

    def answer(self, inquiry: Path, out_dir: Path) -> Path:
        """Answer one inquiry file; the answer appears atomically as ``JLIS_A_<run>.dat``."""
        with FixedWidthFile(inquiry, load_layout(INQUIRY_LAYOUT)) as f:
            run_id, created = f.header["run_id"], f.header["created_date"]
            answers = []
            for chunk in f.chunks():
                v = chunk.values
                births = v["birth_date"].astype("datetime64[D]").astype(object)
                for i in range(len(chunk)):
                    found = self.lookup(v["name_kanji"][i], v["name_kana"][i], v["sex"][i], births[i],
                                        v["address_kanji"][i])
                    answers.append(self.answer_record(v["inquiry_id"][i], found))
        out_dir.mkdir(parents=True, exist_ok=True)
        final = out_dir / f"JLIS_A_{run_id}.dat"
        tmp = out_dir / f".{final.name}.part"
        header = {"interface_id": ANSWER_ID, "run_id": run_id, "created_date": created,
                  "sender_code": SENDER_CODE}
        with open(tmp, "wb") as out:
            write_file(out, load_layout(ANSWER_LAYOUT), header, answers)
        tmp.replace(final)
        return final


def _full_width_reading(half_width: str) -> str:
    """The register's reading: full-width katakana, U+3000 between family and given name."""
    return unicodedata.normalize("NFKC", half_width).replace(" ", "\u3000")


def _with_variant(name: str, seed: int, key: str) -> str:
    table = variants_of()
    # the brief's examples first, then any character the tables know a variant of
    for i, ch in sorted(enumerate(name), key=lambda ic: (ic[1] not in "高崎斎", ic[0])):
        options = table.get(ch)
        if options:
            return name[:i] + options[rank(seed, f"variant/{i}", key)[0] % len(options)] + name[i + 1:]
    return name


def has_variant(name: str) -> bool:
    table = variants_of()
    return any(ch in table for ch in name)


def _another_home(homes: list[tuple[str, str]], address: str, seed: int, key: str) -> str:
    start = int.from_bytes(rank(seed, "moved", key)) % len(homes)
    for step in range(len(homes)):
        candidate = homes[(start + step) % len(homes)][1]
        if canonical_address(candidate) != canonical_address(address):
            return candidate
    raise ValueError("the population has a single address: nobody can move")  # pragma: no cover


def _typo(birth: dt.date, seed: int, key: str) -> dt.date:
    """A day off, as a mistyped last digit usually is; always another valid date."""
    return birth + dt.timedelta(days=1 if rank(seed, "typo", key)[0] % 2 else -1)


def _fresh_number(seed: int, key: str, taken: set[str]) -> str:
    salt = 0
    while True:
        digest = rank(seed, f"duplicate/{salt}", key)
        number = my_number_with_check_digit(f"{int.from_bytes(digest) % 10**11:011d}")
        if number not in taken:
            return number
        salt += 1


def _damaged(number: str) -> str:
    """The same number with a wrong check digit (a record damaged on the way)."""
    return number[:11] + str((int(number[11]) + 1) % 10)


# --- what the sandbox planted ------------------------------------------------------------------
class MyNumberScenario:
    """The pension service and J-LIS for the members of ``month``, and the counts they imply.

    The platform asks J-LIS about everyone enrolled at the end of the month whom the pension
    file did not cover (dependents, insured persons 70+, the missed few). Among them the
    planted differences are distinct people, so each outcome is known in advance.
    """

    def __init__(self, population: Population, month: str | dt.date,
                 plant_counts: dict[str, int] | None = None):
        self.population = population
        self.month = parse_month(month)
        self.pension = PensionService(population, self.month)
        counts = {**PLANT_COUNTS, **(plant_counts or {})}
        delivered = {p.key for p in self.pension.delivered}
        self.members = sorted((p for p in population.members_in(self.month)
                               if p.enrolled_at_end_of(self.month)), key=lambda p: p.key)
        self.asked: list[Person] = [p for p in self.members if p.key not in delivered]
        seed = population.seed
        missed = self.pension.missed
        # missed[0] and missed[1] must be found by J-LIS (their later pension record then
        # agrees or conflicts); missed[2] cannot be found (the pension file resolves it).
        keep_findable = {p.key for p in missed[:2]}
        plants = Plants(unfindable=[p.key for p in missed[2:3]])
        pool = sorted((p for p in self.asked if p.key not in keep_findable and p not in missed),
                      key=lambda p: rank(seed, "jlis-plant", p.key))
        for kind in ("duplicate", "moved", "birth_date_typo", "unfindable", "damaged_answer"):
            take, pool = pool[:counts[kind]], pool[counts[kind]:]
            getattr(plants, kind).extend(p.key for p in take)
        # Differences that must still match, on anyone asked (several may meet in one person).
        for p in self.asked:
            if rank(seed, "spaces?", p.key)[0] < 256 * SHARE_SPACES:
                plants.spaces.append(p.key)
            if rank(seed, "house?", p.key)[0] < 256 * SHARE_HOUSE_NUMBER:
                plants.house_number.append(p.key)
            if has_variant(p.name_kanji) and rank(seed, "variant?", p.key)[0] < 256 * SHARE_VARIANT:
                plants.variant_kanji.append(p.key)
        self.plants = plants
        self.register = ResidentRegister.from_population(population, plants,
                                                         extra_numbers=self.pension.numbers())
        self._by_key = {p.key: p for p in population.persons}

    def expected_reconciliation(self, run: str = "first") -> dict[str, int]:
        """The counts a correct platform reports: ``first`` (the regular pension file and the
        J-LIS inquiry) or ``supplement`` (the pension service's later file of the missed few,
        in a later run for the same eligibility month: nobody new to ask)."""
        p = self.plants
        several, no_match, invalid = len(p.duplicate), len(p.no_match), len(p.damaged_answer)
        counts = dict.fromkeys(("from_pension_file", "matched_by_jlis", "several_candidates", "no_match",
                                "invalid", "conflicting_sources", "already_held", "pension_not_matched",
                                "duplicate_members"), 0)
        without_after_first = several + no_match + invalid
        if run == "first":
            counts.update(from_pension_file=len(self.pension.delivered),
                          matched_by_jlis=len(self.asked) - several - no_match - invalid,
                          several_candidates=several, no_match=no_match, invalid=invalid,
                          inquiries_sent=len(self.asked), members_at_month_end=len(self.members),
                          still_without_number=without_after_first)
            return counts
        if run != "supplement":
            raise ValueError("run is 'first' or 'supplement'")
        unfound = set(p.no_match) | set(p.duplicate) | set(p.damaged_answer)
        for person in self.pension.missed:
            if person.key in unfound:
                counts["from_pension_file"] += 1
            elif person is self.pension.conflicting:
                counts["conflicting_sources"] += 1
            else:
                counts["already_held"] += 1
        counts.update(inquiries_sent=0, members_at_month_end=len(self.members),
                      still_without_number=without_after_first - counts["from_pension_file"])
        return counts

    def numbers(self) -> set[str]:
        """Every number the sandbox knows or handed out: for scans of the platform's files."""
        return ({p.my_number for p in self.population.persons} | self.pension.numbers()
                | self.register.extra_numbers
                | {_damaged(self._by_key[k].my_number) for k in self.plants.damaged_answer})


class JlisCounterpart:
    """J-LIS answering in the background: every ``JLIS_Q_*.dat`` that appears in ``outbox``
    is answered into ``inbox`` (tests and the demo run it while the DAG waits)."""

    def __init__(self, register: ResidentRegister, outbox: Path, inbox: Path, poll_seconds: float = 0.2):
        self.register, self.outbox, self.inbox, self.poll = register, outbox, inbox, poll_seconds
        self.answered: list[Path] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-jlis", daemon=True)

    def __enter__(self) -> JlisCounterpart:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        done: set[str] = set()
        while not self._stop.is_set():
            for inquiry in sorted(self.outbox.glob("JLIS_Q_*.dat")) if self.outbox.is_dir() else []:
                if inquiry.name in done:
                    continue
                try:
                    self.answered.append(self.register.answer(inquiry, self.inbox))
                except FileNotFoundError:   # taken and archived between glob and open
                    continue
                except Exception as exc:  # noqa: BLE001 - reported to the test or demo
                    self.errors.append(exc)
                done.add(inquiry.name)
            self._stop.wait(self.poll)
