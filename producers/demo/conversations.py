"""The demo's conversations: enquiries, forms, calls, emails, chats, texts and letters."""

from __future__ import annotations

from datetime import timedelta

from events import Channel
from events import touchpoints as t
from producers.demo.story import Story

TOPICS = ("delivery times", "product availability", "store opening hours", "gift cards")
CALL_REASONS = (
    ("order status", "delivery date confirmed"),
    ("billing query", "invoice explained"),
    ("product advice", "recommended a model"),
    ("change of address", "address updated"),
    ("booking change", "tickets exchanged"),
)
MAILBOX = "customer.care@example.com"


def enquire(story: Story, unit: str) -> None:
    rng = story.rng
    topic = rng.choice(TOPICS)
    channel = rng.choice((Channel.WEB, Channel.PHONE, Channel.EMAIL))
    enquiry = story.emit(
        t.EnquiryReceived,
        t.EnquiryReceivedPayload(
            enquiry_id=f"EQ-{story.new_id()[:8].upper()}",
            topic=topic,
            message=f"Hello, could you tell me more about {topic}? Thanks.",
            preferred_contact=Channel.EMAIL,
            callback_requested=channel is Channel.PHONE,
        ),
        at=story.moment(),
        unit=unit,
        channel=channel,
    )
    reply = t.EmailPayload(mailbox=MAILBOX, subject_line=f"Re: your question about {topic}")
    at = enquiry.occurred_at + timedelta(hours=rng.randint(1, 30))
    story.emit(t.EmailSent, reply, at=at, unit=unit, after=enquiry)


def contact_form(story: Story, unit: str) -> None:
    rng = story.rng
    c = story.customer
    form = story.emit(
        t.WebFormSubmitted,
        t.WebFormSubmittedPayload(
            form_id="contact-us",
            form_name="Contact us",
            page_url="https://shop.example.com/contact",
            fields={"name": f"{c.given_name} {c.family_name}", "email": c.email, "topic": "order"},
            message="My parcel has not arrived yet, can you check where it is?",
        ),
        at=story.moment(),
        unit=unit,
    )
    thread = f"TH-{story.new_id()[:8]}"
    at = form.occurred_at + timedelta(hours=rng.randint(2, 20))
    sent = t.EmailPayload(mailbox=MAILBOX, subject_line="Your parcel", thread_id=thread)
    story.emit(t.EmailSent, sent, at=at, unit=unit, after=form)
    received = t.EmailPayload(
        mailbox=MAILBOX,
        subject_line="Re: Your parcel",
        body_excerpt="It arrived this morning, thank you!",
        thread_id=thread,
    )
    at += timedelta(hours=rng.randint(3, 48))
    if story.in_past(at):
        story.emit(t.EmailReceived, received, at=at, unit=unit)


def call(story: Story, unit: str) -> None:
    rng = story.rng
    reason, outcome = rng.choice(CALL_REASONS)
    inbound = rng.random() < 0.8
    story.emit(
        t.CallLogged,
        t.CallLoggedPayload(
            direction=t.CallDirection.INBOUND if inbound else t.CallDirection.OUTBOUND,
            dialled_number="+448081570000" if inbound else story.customer.phone,
            duration_seconds=rng.randint(40, 1500),
            reason=reason,
            outcome=outcome,
            agent_id=f"agent-{rng.randint(1, 60):03d}",
            resolved_first_contact=rng.random() < 0.7,
        ),
        at=story.moment(),
        unit=unit,
    )


def chat(story: Story, unit: str) -> None:
    rng = story.rng
    started = story.moment()
    lines = (
        (t.ChatSender.BOT, "Hi! How can we help today?"),
        (t.ChatSender.CUSTOMER, "Can I change the delivery slot for my order?"),
        (t.ChatSender.AGENT, "Of course, I have moved it to Saturday morning."),
        (t.ChatSender.CUSTOMER, "Perfect, thanks."),
    )
    messages = tuple(
        t.ChatMessage(sender=sender, sent_at=started + timedelta(seconds=40 * i), text=text)
        for i, (sender, text) in enumerate(lines)
    )
    payload = t.ChatTranscriptRecordedPayload(
        chat_id=f"CH-{story.new_id()[:8]}",
        started_at=started,
        ended_at=messages[-1].sent_at + timedelta(seconds=30),
        agent_id=f"agent-{rng.randint(1, 60):03d}",
        topic="delivery slot",
        messages=messages,
        rating=rng.choice((None, 4, 5)),
    )
    story.emit(t.ChatTranscriptRecorded, payload, at=payload.ended_at, unit=unit)


def text(story: Story, unit: str) -> None:
    """A delivery text, and the customer's reply to it."""
    sent = story.emit(
        t.SmsSent,
        t.SmsPayload(our_number="60777", body="Your order is out for delivery today."),
        at=story.moment(),
        unit=unit,
    )
    reply = t.SmsPayload(our_number="60777", body="Please leave it with the neighbour at 14.")
    story.emit(t.SmsReceived, reply, at=sent.occurred_at + timedelta(minutes=7), unit=unit)


def letter(story: Story, unit: str) -> None:
    c = story.customer
    story.emit(
        t.LetterReceived,
        t.LetterReceivedPayload(
            letter_ref=f"ML-{story.rng.randint(10000, 99999)}",
            received_on=(at := story.moment()).date(),
            topic="change of address",
            gist="Writes to tell us of a new address from next month.",
            sender_address=c.address,
            scanned_document_id=f"scan-{story.new_id()[:10]}",
        ),
        at=at,
        unit=unit,
    )
