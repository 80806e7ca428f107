"""What customers tell us about us and themselves: surveys, feedback, interests."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, model_validator
from pydantic.config import JsonDict

from events.envelope import Channel, Model, Name, Text
from events.sensitivity import restricted, service
from events.touchpoints.base import NpsScore, Rating, ShortText, Touchpoint


class SurveyAnswer(Model):
    question_id: Name = service()
    question: ShortText = service()
    rating: Rating = service(description="1 (worst) to 5 (best).")


class AgeBand(StrEnum):
    UNDER_18 = "under_18"
    AGE_18_24 = "18_24"
    AGE_25_34 = "25_34"
    AGE_35_49 = "35_49"
    AGE_50_64 = "50_64"
    AGE_65_PLUS = "65_plus"


SURVEY_SAYS_SOMETHING: JsonDict = {
    "anyOf": [
        {"required": ["answers"], "properties": {"answers": {"minItems": 1}}},
        {"required": ["nps"], "properties": {"nps": {"type": "integer"}}},
    ]
}
"""The survey's rule in JSON Schema: answers, or an NPS score."""


class SurveyRespondedPayload(Model):
    model_config = ConfigDict(json_schema_extra=SURVEY_SAYS_SOMETHING)

    survey_id: Name = service()
    survey_name: Name = service()
    answers: tuple[SurveyAnswer, ...] = service((), personal=True, max_length=100)
    nps: NpsScore | None = service(None, description="How likely to recommend us, 0 to 10.")
    comment: Text | None = service(None, personal=True)
    age_band: AgeBand | None = restricted(None, description="As the respondent gave it.")

    @model_validator(mode="after")
    def _says_something(self) -> SurveyRespondedPayload:
        if not self.answers and self.nps is None:
            raise ValueError("a survey response needs answers or an nps score")
        return self


class SurveyResponded(Touchpoint):
    """A survey answered: ratings per question, an NPS score, a comment."""

    default_channel = Channel.EMAIL
    type: Literal["survey.responded"] = "survey.responded"
    payload: SurveyRespondedPayload

    def summary(self) -> str:
        p = self.payload
        nps = f", NPS {p.nps}" if p.nps is not None else ""
        return f"Answered survey '{p.survey_name}'{nps}"


class Sentiment(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class FeedbackGivenPayload(Model):
    topic: Name = service()
    sentiment: Sentiment = service()
    text: Text = service(personal=True)
    rating: Rating | None = service(None)
    order_id: Name | None = service(None)
    publishable: bool = service(False, description="Agreed to being shown as a review.")


class FeedbackGiven(Touchpoint):
    """Unprompted feedback: a review, a compliment, a suggestion."""

    default_channel = Channel.WEB
    type: Literal["feedback.given"] = "feedback.given"
    payload: FeedbackGivenPayload

    def summary(self) -> str:
        p = self.payload
        return f"{p.sentiment.value.capitalize()} feedback about {p.topic}"


class InterestDeclaredPayload(Model):
    categories: tuple[Name, ...] = service(min_length=1, max_length=50)
    captured_via: Name | None = service(None, description="e.g. 'preference centre'.")


class InterestDeclared(Touchpoint):
    """The customer told us what they are interested in."""

    default_channel = Channel.WEB
    type: Literal["interest.declared"] = "interest.declared"
    payload: InterestDeclaredPayload

    def summary(self) -> str:
        return "Interested in " + ", ".join(self.payload.categories)


TYPES: tuple[type[Touchpoint], ...] = (SurveyResponded, FeedbackGiven, InterestDeclared)
