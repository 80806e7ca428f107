"""The demo's relationship: sign-up details, consents, newsletters, interests, campaigns."""

from __future__ import annotations

from datetime import timedelta

from events import Campaign, Channel, Subject
from events import touchpoints as t
from producers.demo.shopping import PROGRAMME
from producers.demo.story import Story

INTERESTS = ("gardening", "cooking", "classical music", "theatre", "outdoor clothing", "toys")
NEWSLETTER = ("NL-WEEKLY", "The Hollis Weekly")
DEMO_ANSWER_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$sz0fNYLIPwuFcpiENBbZcA$"
    "tcEqacSvqNmvnn4ao/EWuNoXuHwmoWObWtl0gWoco6o"
)
"""``api.verification.hash_answer("hollis")``: every demo customer's memorable word is
"hollis" (a fixed hash keeps the demo deterministic and cheap: argon2 is slow on purpose)."""


def sign_up(story: Story) -> None:
    """Details given on the first day, the consents asked for then, and a newsletter."""
    rng, c = story.rng, story.customer
    at = c.since
    profile = story.emit(
        t.ProfileUpdated,
        t.ProfileUpdatedPayload(
            name=t.PersonName(title=c.title, given_name=c.given_name, family_name=c.family_name),
            addresses=(c.address,),
            phones=(t.ContactPhone(use=t.PhoneUse.MOBILE, number=c.phone, primary=True),),
            emails=(t.ContactEmail(use=t.EmailUse.PERSONAL, address=c.email, primary=True),),
            preferred_channel=rng.choice((Channel.EMAIL, Channel.SMS, Channel.PHONE)),
        ),
        at=at,
        unit="group",
        system="customer-portal",
        # The portal knows its account: the details given are the customer's from day one.
        subject=Subject(customer_id=c.customer_id, email=c.email, phone=c.phone),
    )
    if c.loyalty_number:
        welcome = t.RewardsEarnedPayload(
            programme=PROGRAMME, member_number=c.loyalty_number, points=500, reason="welcome"
        )
        story.emit(
            t.RewardsEarned,
            welcome,
            at=at + timedelta(minutes=5),
            unit="group",
            system="loyalty-platform",
            after=profile,
        )
    story.emit(
        t.VerificationSet,
        t.VerificationSetPayload(
            kind=t.VerificationKind.MEMORABLE_WORD, answer_hash=DEMO_ANSWER_HASH
        ),
        at=at + timedelta(seconds=1),
        unit="group",
        system="customer-portal",
        after=profile,
    )
    granted = story.chance(0.7)
    story.emit(
        t.ConsentChanged,
        t.ConsentChangedPayload(
            purpose=t.ConsentPurpose.MARKETING,
            channel=Channel.EMAIL,
            status=t.ConsentStatus.GRANTED if granted else t.ConsentStatus.DENIED,
            legal_basis=t.LegalBasis.CONSENT,
            captured_via="sign-up form",
            proof_reference=f"form-{profile.message_id[:8]}",
        ),
        at=at + timedelta(seconds=2),
        unit="group",
        system="preference-centre",
        after=profile,
    )
    if granted and story.chance(0.6):
        newsletter = t.NewsletterSubscribedPayload(
            newsletter_id=NEWSLETTER[0],
            newsletter_name=NEWSLETTER[1],
            email=c.email,
            topics=tuple(rng.sample(INTERESTS, 2)),
            double_opt_in=True,
        )
        story.emit(t.NewsletterSubscribed, newsletter, at=at + timedelta(minutes=3), unit="group")


def life_changes(story: Story) -> None:
    """Details that come later: a birthday, a household, a move; restricted ones included."""
    rng = story.rng
    story.emit(
        t.ProfileUpdated,
        t.ProfileUpdatedPayload(
            date_of_birth=story.customer.date_of_birth,
            income_band=rng.choice(tuple(t.IncomeBand)),
            household=t.Household(adults=rng.randint(1, 2), children=rng.randint(0, 3)),
            education=rng.choice((None, *t.EducationLevel)),
            preferred_payment_method=t.PaymentMethod.CARD,
            dispatch_instructions=rng.choice((None, "Leave parcels in the porch.")),
        ),
        at=story.moment(),
        unit="group",
        system="customer-portal",
    )


def leave_newsletter(story: Story) -> None:
    story.emit(
        t.NewsletterUnsubscribed,
        t.NewsletterUnsubscribedPayload(
            newsletter_id=NEWSLETTER[0],
            newsletter_name=NEWSLETTER[1],
            reason=story.rng.choice(tuple(t.UnsubscribeReason)),
        ),
        at=story.moment(),
        unit="group",
    )
    revoke = t.ConsentChangedPayload(
        purpose=t.ConsentPurpose.MARKETING,
        channel=Channel.EMAIL,
        status=t.ConsentStatus.REVOKED,
        legal_basis=t.LegalBasis.CONSENT,
        captured_via="unsubscribe link",
    )
    story.emit(t.ConsentChanged, revoke, at=story.moment(), unit="group", channel=Channel.EMAIL)


def interests(story: Story) -> None:
    categories = tuple(story.rng.sample(INTERESTS, story.rng.randint(1, 3)))
    payload = t.InterestDeclaredPayload(categories=categories, captured_via="preference centre")
    story.emit(t.InterestDeclared, payload, at=story.moment(), unit="group")


def competition(story: Story) -> None:
    payload = t.CompetitionEnteredPayload(
        competition_id="COMP-SUMMER",
        competition_name="Win a garden makeover",
        answer="Lavender",
        entry_code=f"RC{story.rng.randint(100000, 999999)}",
    )
    story.emit(t.CompetitionEntered, payload, at=story.moment(), unit="retail")


def campaign_response(story: Story) -> None:
    """The customer answers a mailer: by its campaign line, its web page or in store."""
    rng = story.rng
    response = rng.choice(
        (t.CampaignResponse.CALLED, t.CampaignResponse.CLICKED, t.CampaignResponse.VISITED_STORE)
    )
    channel = {"called": Channel.PHONE, "clicked": Channel.WEB}.get(response.value, Channel.STORE)
    reference = f"MLR-{rng.randint(100000, 999999)}"
    story.emit(
        t.CampaignResponded,
        t.CampaignRespondedPayload(
            campaign_code="AUTUMN-MAILER",
            response=response,
            reference_number=reference,
            campaign_phone_number="+448081570123" if channel is Channel.PHONE else None,
            landing_url="https://shop.example.com/autumn" if channel is Channel.WEB else None,
        ),
        at=story.moment(),
        unit="group",
        channel=channel,
        system="campaign-manager",
        campaign=Campaign(code="AUTUMN-MAILER", reference=reference, name="Autumn mailer"),
    )


ACCOUNT_MANAGER = "agent (this run)"
"""The owning rep of the demo's key accounts: the agent token ``touchlog up`` prints."""


def account_manager(story: Story) -> None:
    """A key account gets an owning rep (seed 004), who keeps a private note about it."""
    at = story.moment()
    assigned = story.emit(
        t.RelationshipAssigned,
        t.RelationshipAssignedPayload(owner=ACCOUNT_MANAGER, assigned_by="manager (this run)"),
        at=at,
        unit="retail",
        system="crm-accounts",
    )
    story.emit(
        t.RelationshipNoted,
        t.RelationshipNotedPayload(
            author=ACCOUNT_MANAGER,
            note="Prefers a call after 6pm; planning a new kitchen next spring.",
        ),
        at=at + timedelta(days=2),
        unit="retail",
        system="crm-accounts",
        after=assigned,
    )
