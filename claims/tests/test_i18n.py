"""Customer text in German (issue 11): the shipped catalogues are complete and compiled, and the
customer pages, scripts' catalogue and API messages come in the language the browser or the
account asks for. Needs no GNU gettext: the .po files are parsed here and the committed .mo
files read with the standard library."""

import ast
import gettext as stdlib_gettext
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from claims import images, services
from claims.models import AccountPreference, Claim
from claims.tests.factories import PASSWORD, ClaimFactory, CustomerFactory, PhotoFactory

LOCALE = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES"
DOMAINS = ("django", "djangojs")
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")
GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en;q=0.5"}


def _unquote(lines: list[str]) -> str:
    return "".join(ast.literal_eval(line) for line in lines)


def po_entries(path: Path) -> list[dict]:
    """The entries of a .po file: context, id, plural id, translations and flags."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry: dict = {"flags": set(), "msgstr": {}}
        field, key = None, 0
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] |= {f.strip() for f in line[2:].split(",")}
            elif line.startswith("#") or not line.strip():
                continue
            elif line.startswith('"'):  # a continuation of the field above
                (entry["msgstr"][key] if field == "msgstr" else entry[field]).append(line)
            else:
                name, _, rest = line.partition(" ")
                if name.startswith("msgstr"):
                    field, key = "msgstr", int(name[7:-1]) if "[" in name else 0
                    entry["msgstr"][key] = [rest]
                else:
                    field = name
                    entry[field] = [rest]
        if "msgid" not in entry:
            continue
        entry["msgid"] = _unquote(entry["msgid"])
        entry["msgctxt"] = _unquote(entry["msgctxt"]) if "msgctxt" in entry else None
        entry["msgid_plural"] = _unquote(entry["msgid_plural"]) if "msgid_plural" in entry else None
        entry["msgstr"] = {k: _unquote(v) for k, v in entry["msgstr"].items()}
        if entry["msgid"]:  # not the header
            entries.append(entry)
    return entries


@pytest.mark.parametrize("domain", DOMAINS)
def test_german_catalogue_has_every_entry_translated_and_none_fuzzy(domain):
    entries = po_entries(LOCALE / f"{domain}.po")
    assert len(entries) > 100  # the customer pages have more than that to say

    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"].values())]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    plurals_short = [e["msgid"] for e in entries if e["msgid_plural"] and len(e["msgstr"]) != 2]
    assert untranslated == []
    assert fuzzy == []
    assert plurals_short == []


@pytest.mark.parametrize("domain", DOMAINS)
def test_german_translations_keep_every_placeholder(domain):
    wrong = []
    for entry in po_entries(LOCALE / f"{domain}.po"):
        expected = sorted(PLACEHOLDER.findall(entry["msgid_plural"] or entry["msgid"]))
        for text in entry["msgstr"].values():
            if sorted(PLACEHOLDER.findall(text)) != expected and sorted(
                PLACEHOLDER.findall(text)
            ) != sorted(PLACEHOLDER.findall(entry["msgid"])):
                wrong.append((entry["msgid"], text))
    assert wrong == []


@pytest.mark.parametrize("domain", DOMAINS)
def test_committed_mo_is_compiled_from_the_po(domain):
    # A fresh machine may lack gettext: the .mo is committed, so it must say what the .po says.
    with (LOCALE / f"{domain}.mo").open("rb") as handle:
        compiled = stdlib_gettext.GNUTranslations(handle)._catalog
    expected = {}
    for entry in po_entries(LOCALE / f"{domain}.po"):
        key = (
            entry["msgid"]
            if entry["msgctxt"] is None
            else f"{entry['msgctxt']}\x04{entry['msgid']}"
        )
        if entry["msgid_plural"] is None:
            expected[key] = entry["msgstr"][0]
        else:
            for index, text in entry["msgstr"].items():
                expected[(key, index)] = text
    compiled = {k: v for k, v in compiled.items() if k != ""}  # the header
    assert compiled == expected


def _source_strings(pattern: re.Pattern, paths) -> set[str]:
    found = set()
    for path in paths:
        found |= {m.group("text") for m in pattern.finditer(path.read_text(encoding="utf-8"))}
    return found


def test_every_marked_template_and_script_string_is_in_the_catalogue():
    # A string marked in a template or a script after the last makemessages would show English.
    base = Path(settings.BASE_DIR)
    templates = [*(base / "claims" / "templates").rglob("*.html"), base / "templates" / "503.html"]
    scripts = list((base / "claims" / "static" / "claims" / "js").glob("*.js"))
    in_templates = _source_strings(re.compile(r'{% translate "(?P<text>[^"]+)"'), templates)
    in_scripts = _source_strings(
        re.compile(r'\b(?:gettext|ngettext)\("(?P<text>[^"]+)"'), scripts
    ) | _source_strings(re.compile(r'\bpgettext\("[^"]+", "(?P<text>[^"]+)"'), scripts)
    django_ids = {e["msgid"] for e in po_entries(LOCALE / "django.po")}
    js_ids = {e["msgid"] for e in po_entries(LOCALE / "djangojs.po")}
    assert len(in_templates) > 60 and len(in_scripts) > 100
    assert in_templates - django_ids == set()
    assert in_scripts - js_ids == set()


def _english_sentences() -> set[str]:
    """Whole English sentences of the catalogue whose German differs: none may show in German."""
    return {
        e["msgid"]
        for e in po_entries(LOCALE / "django.po")
        if len(e["msgid"]) >= 16
        and not PLACEHOLDER.search(e["msgid"])
        and "<" not in e["msgid"]
        and e["msgstr"][0] != e["msgid"]
    }


def _visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", html)


@pytest.fixture
def german_customer(db):
    return CustomerFactory()


def _signed_in(user, **headers) -> Client:
    client = Client(**headers)
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.mark.django_db
def test_customer_pages_are_german_for_a_german_browser(german_customer):
    # given a draft with a photo and a claim in review, read with Accept-Language: de
    draft = ClaimFactory(owner=german_customer)
    PhotoFactory(
        claim=draft, quality_warnings=[{"code": "too_dark", "message": images.WARN_TOO_DARK}]
    )
    submitted = ClaimFactory(owner=german_customer, submitted=True, status=Claim.Status.IN_REVIEW)
    PhotoFactory(claim=submitted)
    client = _signed_in(german_customer, **GERMAN)
    anonymous = Client(**GERMAN)
    pages = {
        "login": (anonymous, reverse("login"), "Melden Sie einen Schaden an Ihrem Auto"),
        "register": (anonymous, reverse("register"), "Passwort wiederholen"),
        "home": (client, reverse("home"), "Ihre Schadenmeldungen"),
        "new": (client, reverse("claim-new"), "Versicherungsnummer"),
        "photos": (
            client,
            reverse("claim-photos", kwargs={"claim_id": draft.pk}),
            "Gute Fotos helfen uns, schneller zu entscheiden",
        ),
        "review": (
            client,
            reverse("claim-review", kwargs={"claim_id": draft.pk}),
            "Schadenmeldung einreichen",
        ),
        "status": (
            client,
            reverse("claim-status", kwargs={"claim_id": submitted.pk}),
            "Ein Sachbearbeiter sieht sich Ihre Schadenmeldung an.",
        ),
    }
    english = _english_sentences()
    assert len(english) > 50
    for name, (who, url, german) in pages.items():
        # when
        response = who.get(url)
        # then
        assert response.status_code == 200, name
        html = _visible_text(response.content.decode())
        assert '<html lang="de">' in html, name
        assert german in html, name
        assert [s for s in english if s in html] == [], name
    review = _visible_text(client.get(pages["review"][1]).content.decode())
    # a stored (English) quality warning is shown in German
    assert "Das Foto ist zu dunkel. Nehmen Sie es bei besserem Licht erneut auf." in review


@pytest.mark.django_db
def test_customer_pages_stay_english_without_accept_language(german_customer):
    response = _signed_in(german_customer).get(reverse("home"))
    html = response.content.decode()
    assert '<html lang="en-gb">' in html
    assert "Your claims" in html and "Ihre Schadenmeldungen" not in html


@pytest.mark.django_db
def test_customer_api_messages_are_german_and_codes_stay_english(german_customer, api_client_for):
    # given
    api = api_client_for(german_customer)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    body = {
        "policy_number": "POL-2024-1234",
        "vehicle_make": "Toyota",
        "vehicle_model": "Corolla",
        "vehicle_year": 2019,
        "incident_date": tomorrow,
    }
    # when
    future = api.post(reverse("api-claims"), body, format="json", **GERMAN)
    invalid = api.post(reverse("api-claims"), {}, format="json", **GERMAN)
    anonymous = Client(**GERMAN).get(reverse("api-claims"))
    english = api.post(reverse("api-claims"), body, format="json")
    # then
    assert future.status_code == 400
    assert future.json()["error"]["code"] == "incident_in_future"
    assert future.json()["error"]["message"] == "Das Schadendatum darf nicht in der Zukunft liegen."
    assert english.json()["error"]["message"] == services.ERR_FUTURE_INCIDENT
    assert invalid.json()["error"]["code"] == "invalid"
    assert invalid.json()["error"]["message"] == "Einige Felder fehlen oder sind ungültig."
    assert invalid.json()["error"]["details"]["fields"]["policy_number"] == [
        "Dieses Feld ist zwingend erforderlich."  # Django REST framework's own German
    ]
    assert anonymous.status_code in (401, 403)
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    assert "Anmeldedaten" in anonymous.json()["error"]["message"]


@pytest.mark.django_db
def test_claim_api_status_and_warnings_are_german(german_customer, api_client_for):
    claim = ClaimFactory(owner=german_customer)
    PhotoFactory(
        claim=claim,
        quality_warnings=[{"code": "too_blurry", "message": images.WARN_TOO_BLURRY}],
    )
    response = api_client_for(german_customer).get(
        reverse("api-claim-detail", kwargs={"claim_id": claim.pk}), **GERMAN
    )
    body = response.json()
    assert body["status"] == "draft" and body["status_display"] == "Entwurf"
    assert body["photos"][0]["quality_warnings"] == [
        {
            "code": "too_blurry",
            "message": (
                "Das Foto wirkt unscharf. Halten Sie das Handy ruhig und nehmen Sie es erneut auf."
            ),
        }
    ]


@pytest.mark.django_db
def test_script_catalogue_is_a_german_script_file_without_eval():
    response = Client(**GERMAN).get(reverse("js-catalog"))
    script = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "Wird hochgeladen" in script and "Hinweise des Sachbearbeiters" in script
    # The page's Content-Security-Policy has no 'unsafe-eval': the catalogue must not need it.
    assert "eval(" not in script and "new Function" not in script
    assert "'unsafe-eval'" not in settings.CLAIMVISION_CONTENT_SECURITY_POLICY


@pytest.mark.django_db
def test_language_switch_saves_the_choice_and_it_wins_over_the_browser(german_customer):
    # given a German browser, signed in
    client = _signed_in(german_customer, **GERMAN)
    assert "Ihre Schadenmeldungen" in client.get(reverse("home")).content.decode()
    # when the customer switches to English
    response = client.post(reverse("language-set"), {"language": "en-gb", "next": reverse("home")})
    # then the choice is saved on the account and the pages are English
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert AccountPreference.objects.get(user=german_customer).language == "en-gb"
    assert "Your claims" in client.get(reverse("home")).content.decode()
    # and on another device (no language cookie) with a German browser, after signing in
    other = Client(**GERMAN)
    assert "Melden Sie einen Schaden" in other.get(reverse("login")).content.decode()
    signed_in = other.post(
        reverse("login"), {"username": german_customer.username, "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    assert signed_in.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en-gb"
    home = other.get(reverse("home")).content.decode()
    assert "Your claims" in home and "Ihre Schadenmeldungen" not in home


@pytest.mark.django_db
def test_language_switch_refuses_get_and_unknown_languages(german_customer):
    client = _signed_in(german_customer)
    assert client.get(reverse("language-set")).status_code == 405
    client.post(reverse("language-set"), {"language": "xx", "next": "/"})
    assert not AccountPreference.objects.filter(user=german_customer).exists()
    with pytest.raises(services.ApplicationError) as exc:
        services.user_language_set(user=german_customer, language="xx")
    assert exc.value.code == "language_unknown"


@pytest.mark.django_db
def test_language_switch_needs_the_csrf_token(german_customer):
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=german_customer.username, password=PASSWORD)
    response = client.post(reverse("language-set"), {"language": "de", "next": "/"})
    assert response.status_code == 403
    assert not AccountPreference.objects.filter(user=german_customer).exists()


@pytest.mark.django_db
def test_staff_pages_stay_english_for_a_german_browser(adjuster):
    client = _signed_in(adjuster, **GERMAN)
    queue = client.get(reverse("review-queue"))
    admin_login = Client(**GERMAN).get("/admin/login/")
    assert queue.status_code == 200
    assert '<html lang="de">' not in queue.content.decode()
    assert "Anmelden" not in admin_login.content.decode()
    assert "Log in" in admin_login.content.decode()


@pytest.mark.django_db
def test_decision_outcome_and_reasons_are_german_for_the_customer_only(german_customer):
    from django.utils import translation

    from assessment.models import Decision
    from assessment.serializers import CustomerDecisionSerializer, DecisionSerializer

    claim = ClaimFactory(owner=german_customer, submitted=True, status=Claim.Status.IN_REVIEW)
    decision = Decision.objects.create(
        claim=claim,
        outcome=Decision.Outcome.ROUTED_TO_REVIEW,
        automatic=True,
        reasons=[{"code": "estimate_over_limit", "message": "Estimate 2,400 over 2,000."}],
    )
    with translation.override("de"):
        customer = CustomerDecisionSerializer(decision).data
        staff = DecisionSerializer(decision).data
    assert customer["outcome_display"] == "An einen Sachbearbeiter weitergeleitet"
    assert customer["reasons"] == [
        {
            "code": "estimate_over_limit",
            "message": (
                "Der geschätzte Reparaturbetrag liegt über der Grenze, bis zu der wir "
                "automatisch entscheiden."
            ),
        }
    ]
    # The model's labels stay English: staff pages, exports and stored texts use them.
    assert staff["outcome_display"] == "Sent to an adjuster"


def test_database_outage_answers_in_the_browsers_language(rf):
    from config.availability import database_unavailable_response

    page = database_unavailable_response(rf.get("/", HTTP_ACCEPT_LANGUAGE="de"))
    api = database_unavailable_response(rf.get("/api/v1/claims/", HTTP_ACCEPT_LANGUAGE="de"))
    english = database_unavailable_response(rf.get("/"))
    assert page.status_code == 503 and "Gleich wieder da" in page.content.decode()
    assert '<html lang="de">' in page.content.decode()
    error = json.loads(api.content)["error"]
    assert error["code"] == "service_unavailable"
    assert error["message"].startswith("Der Dienst ist kurz nicht erreichbar.")
    assert "Back in a moment" in english.content.decode()


def test_body_too_large_refusal_answers_in_the_browsers_language(rf):
    from claims.uploads import RequestSizeLimitMiddleware

    middleware = RequestSizeLimitMiddleware(lambda request: pytest.fail("body was read"))
    request = rf.post(
        "/api/v1/claims/",
        data=b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1),
        HTTP_ACCEPT_LANGUAGE="de",
    )
    error = json.loads(middleware(request).content)["error"]
    assert error["code"] == "request_too_large"
    assert error["message"].startswith("Die Anfrage ist größer als")


def test_standard_adjuster_sentences_are_the_ones_review_stores():
    from assessment import policy
    from review import services as review_services

    assert set(policy.CUSTOMER_STANDARD_SENTENCES) == set(
        review_services.CUSTOMER_MESSAGES.values()
    )


@pytest.mark.django_db
def test_adjusters_standard_sentence_is_german_and_their_own_words_stay(german_customer):
    from django.utils import translation

    from assessment import selectors
    from assessment.models import Decision
    from review import services as review_services

    claim = ClaimFactory(owner=german_customer, submitted=True, status=Claim.Status.DECIDED)
    standard = Decision.objects.create(
        claim=claim,
        outcome=Decision.Outcome.DENIED,
        automatic=False,
        reasons=[{"code": "adjuster_denied", "message": review_services.CUSTOMER_MESSAGES["deny"]}],
    )
    written = Decision.objects.create(
        claim=claim,
        outcome=Decision.Outcome.DENIED,
        automatic=False,
        reasons=[{"code": "adjuster_denied", "message": "Der Schaden war schon vorher da."}],
    )
    with translation.override("de"):
        assert selectors.decision_reasons_for_customer(decision=standard) == [
            {
                "code": "adjuster_denied",
                "message": "Ein Sachbearbeiter hat Ihre Schadenmeldung geprüft und abgelehnt.",
            }
        ]
        assert selectors.decision_reasons_for_customer(decision=written)[0]["message"] == (
            "Der Schaden war schon vorher da."
        )
    english = selectors.decision_reasons_for_customer(decision=standard)
    assert english[0]["message"] == review_services.CUSTOMER_MESSAGES["deny"]


def test_damage_type_names_are_german_for_the_customer():
    from types import SimpleNamespace

    from django.utils import translation

    from assessment.serializers import ClaimAssessmentSerializer
    from ml.labels import DEFAULT_LABEL_MAP

    record = SimpleNamespace(model_version=SimpleNamespace(label_map=DEFAULT_LABEL_MAP.to_dict()))
    with translation.override("de"):
        german = ClaimAssessmentSerializer().get_label_names(record)
    english = ClaimAssessmentSerializer().get_label_names(record)
    assert german["dent"] == "Delle" and german["tire_flat"] == "Platter Reifen"
    assert english["tire_flat"] == "Flat tyre"
    # every bundled type has a German name (none left in English)
    assert all(german[name] != english[name] for name in english)


def test_default_price_descriptions_are_german_and_an_operators_own_stay():
    from django.utils import translation

    from assessment import defaults
    from assessment.serializers import StoredEnglishField

    field = StoredEnglishField()
    descriptions = {row[-1] for row in defaults.RULES}
    with translation.override("de"):
        german = {text: field.to_representation(text) for text in descriptions}
        own = field.to_representation("Sonderlackierung laut Werkstatt")
        empty = field.to_representation("")
    assert [text for text, shown in german.items() if shown == text] == []
    assert german["Paintless dent repair"] == "Ausbeulen ohne Lackieren"
    assert own == "Sonderlackierung laut Werkstatt" and empty == ""
    assert field.to_representation("Paintless dent repair") == "Paintless dent repair"


def test_estimate_lines_by_part_are_german_for_the_customer():
    from django.utils import translation

    from assessment.part_pricing import OPERATION_WORDS, line_description
    from assessment.serializers import StoredEnglishField
    from ml.labels import DEFAULT_PART_MAP

    field = StoredEnglishField()
    lines = [
        line_description(part, operation)
        for part in (*DEFAULT_PART_MAP.names[1:], "")
        for operation in OPERATION_WORDS
    ]
    with translation.override("de"):
        german = {text: field.to_representation(text) for text in lines}
        other_map = field.to_representation(line_description("tailgate_spoiler", "refinish"))
    assert [text for text, shown in german.items() if shown == text] == []
    assert german["Front bumper — refinish"] == "Stoßfänger vorne — lackieren"
    assert german["Unknown part — remove and refit"] == "Unbekanntes Bauteil — aus- und einbauen"
    assert other_map == "Tailgate spoiler — lackieren"  # a part the catalogue does not know


def test_part_names_are_german_for_the_customer():
    from types import SimpleNamespace

    from django.utils import translation

    from assessment.serializers import ClaimAssessmentSerializer

    # given: lines on the front bumper and on no known part, a damaged part of another map
    lines = [SimpleNamespace(part="front_bumper"), SimpleNamespace(part="")]
    record = SimpleNamespace(
        lines=SimpleNamespace(all=lambda: lines), damaged_parts=[{"part": "tailgate_spoiler"}]
    )

    # when
    with translation.override("de"):
        german = ClaimAssessmentSerializer().get_part_names(record)
    english = ClaimAssessmentSerializer().get_part_names(record)

    # then: the catalogue's words, and a part it does not know as its map spells it
    assert german == {
        "front_bumper": "Stoßfänger vorne",
        "": "Unbekanntes Bauteil",
        "tailgate_spoiler": "Tailgate spoiler",
    }
    assert english["front_bumper"] == "Front bumper"
