"""Written conversations: emails, chats, text messages and letters."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import StringConstraints, model_validator

from events.envelope import Channel, Email, Model, Name, Text, UtcDatetime
from events.rules import NO_NUL, ContractRule
from events.sensitivity import essential, service
from events.touchpoints.base import Rating, ShortText, Touchpoint
from events.touchpoints.contact import PostalAddress


class EmailPayload(Model):
    mailbox: Email = service(description="Our mailbox that received or sent it.")
    subject_line: ShortText = service(personal=True)
    body_excerpt: Text | None = service(None, personal=True)
    thread_id: Name | None = service(None)
    attachments: int = service(0, ge=0, le=100)


class EmailReceived(Touchpoint):
    """An email from the customer arrived in one of our mailboxes."""

    default_channel = Channel.EMAIL
    type: Literal["email.received"] = "email.received"
    payload: EmailPayload

    def summary(self) -> str:
        return f"Email received: {self.payload.subject_line}"


class EmailSent(Touchpoint):
    """We emailed the customer (one-to-one, not a mass mailing)."""

    default_channel = Channel.EMAIL
    type: Literal["email.sent"] = "email.sent"
    payload: EmailPayload

    def summary(self) -> str:
        return f"Email sent: {self.payload.subject_line}"


class ChatSender(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"


class ChatMessage(Model):
    sender: ChatSender = service()
    sent_at: UtcDatetime = service()
    text: Annotated[str, StringConstraints(max_length=4000, pattern=NO_NUL)] = service()


CHAT_ENDS_AFTER_START = ContractRule(
    "chat-ends-after-start", "payload.ended_at is not before payload.started_at."
)


class ChatTranscriptRecordedPayload(Model):
    contract_rules = (CHAT_ENDS_AFTER_START,)

    chat_id: Name = service()
    started_at: UtcDatetime = service()
    ended_at: UtcDatetime = service()
    agent_id: Name | None = service(None, description="None when a bot handled it all.")
    topic: Name | None = service(None)
    messages: tuple[ChatMessage, ...] = service(personal=True, min_length=1, max_length=500)
    rating: Rating | None = service(None, description="The customer's rating of the chat.")

    @model_validator(mode="after")
    def _ends_after_start(self) -> ChatTranscriptRecordedPayload:
        if self.ended_at < self.started_at:
            raise CHAT_ENDS_AFTER_START.broken("ended_at is before started_at")
        return self


class ChatTranscriptRecorded(Touchpoint):
    """A web or app chat ended and its transcript was stored."""

    default_channel = Channel.CHAT
    type: Literal["chat.transcript_recorded"] = "chat.transcript_recorded"
    payload: ChatTranscriptRecordedPayload

    def summary(self) -> str:
        p = self.payload
        topic = f" about {p.topic}" if p.topic else ""
        count = len(p.messages)
        return f"Chat{topic}, {count} message{'s' if count != 1 else ''}"


ShortCode = Annotated[str, StringConstraints(pattern=r"^(\+[1-9][0-9]{6,14}|[0-9]{3,8})$")]


class SmsPayload(Model):
    our_number: ShortCode = service(description="Our short code or E.164 number.")
    body: Annotated[str, StringConstraints(max_length=1600, pattern=NO_NUL)] = service(
        personal=True
    )
    message_ref: Name | None = service(None, description="The SMS gateway's message id.")
    segments: int = service(1, ge=1, le=10)


class SmsReceived(Touchpoint):
    """A text message from the customer."""

    default_channel = Channel.SMS
    type: Literal["sms.received"] = "sms.received"
    payload: SmsPayload

    def summary(self) -> str:
        return f"Text received: {_first_words(self.payload.body)}"


class SmsSent(Touchpoint):
    """A text message we sent to the customer."""

    default_channel = Channel.SMS
    type: Literal["sms.sent"] = "sms.sent"
    payload: SmsPayload

    def summary(self) -> str:
        return f"Text sent: {_first_words(self.payload.body)}"


def _first_words(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class LetterReceivedPayload(Model):
    letter_ref: Name = service(description="Mailroom reference stamped on the letter.")
    received_on: date = service()
    topic: Name = service()
    gist: Text = service(
        personal=True, description="What the letter says, as summarised by the mailroom."
    )
    sender_address: PostalAddress | None = essential(None)
    scanned_document_id: Name | None = service(None)


class LetterReceived(Touchpoint):
    """A letter from the customer, opened and logged by the mailroom."""

    default_channel = Channel.MAIL
    type: Literal["letter.received"] = "letter.received"
    payload: LetterReceivedPayload

    def summary(self) -> str:
        return f"Letter received about {self.payload.topic} (ref {self.payload.letter_ref})"


TYPES: tuple[type[Touchpoint], ...] = (
    EmailReceived,
    EmailSent,
    ChatTranscriptRecorded,
    SmsReceived,
    SmsSent,
    LetterReceived,
)
