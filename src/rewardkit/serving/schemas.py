"""Request and response bodies of the reward server (they define its OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator


def encodable(text: str) -> str:
    """JSON may carry lone surrogates ("\\ud800"), which no tokenizer can encode: refuse them here."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"text is not valid Unicode ({e.reason} at position {e.start})") from None
    return text


Text = Annotated[str, AfterValidator(encodable)]


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: Text


class PromptResponseItem(BaseModel):
    """A prompt (a string: one user turn, or chat messages) and the response to score."""

    model_config = ConfigDict(extra="forbid")

    prompt: Text | list[ChatMessage] = Field(min_length=1)
    response: Text


class MessagesItem(BaseModel):
    """A conversation whose last message is the assistant response to score."""

    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(min_length=2)


class TextItem(BaseModel):
    """A text scored as is, at its last token: TRL's standard format (prompt + completion as one string)."""

    model_config = ConfigDict(extra="forbid")

    text: Text = Field(min_length=1)


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[PromptResponseItem | MessagesItem | TextItem] = Field(
        description="items to score, at most the server's max_items"
    )
    normalize: bool | None = Field(
        None, description="z-normalise the rewards; default: on when the server has normalisation statistics"
    )


class ScoreResponse(BaseModel):
    rewards: list[float]
    normalized: bool
    truncated: list[bool] = Field(description="which items were truncated to the length limit (over_length=truncate)")


class RewardRequest(BaseModel):
    """OpenRLHF's remote reward model request: full rendered conversations (prompt + response) in `query`."""

    model_config = ConfigDict(extra="allow")  # OpenRLHF also sends prompts / labels, which are not needed

    query: list[Text]


class RewardResponse(BaseModel):
    rewards: list[float]
    scores: list[float] = Field(description="the same values (newer OpenRLHF versions read `scores`)")
    truncated: list[bool] = Field(description="which queries were cut from the left to the length limit")
    extra_logs: dict[str, list[float]] = Field(
        description="per-query values OpenRLHF logs with its metrics: `truncated` (1.0 for a truncated query)"
    )


class ClassifyRequest(BaseModel):
    """vLLM's /classify request: rendered conversations in `input` (completion form), or one conversation in
    `messages` whose last message is the response (chat form). Other vLLM options are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, description="echoed in the reply; the server scores its one model")
    input: Text | list[Text] | None = Field(None, description="full conversations rendered with the chat template")
    messages: list[ChatMessage] | None = Field(None, min_length=2)
    use_activation: bool | None = Field(
        None, description="sigmoid of the reward (vLLM's default for one label); false: the raw reward"
    )
    activation: bool | None = Field(None, description="older vLLM name of use_activation (verl sends it)")
    softmax: bool | None = Field(None, description="oldest vLLM name of use_activation")

    @model_validator(mode="after")
    def one_form(self) -> ClassifyRequest:
        if (self.input is None) == (self.messages is None):
            raise ValueError("give either `input` (rendered conversations) or `messages` (one conversation)")
        return self

    def wants_activation(self, default: bool) -> bool:
        for value in (self.use_activation, self.activation, self.softmax):
            if value is not None:
                return value
        return default


class UsageInfo(BaseModel):
    prompt_tokens: int = 0
    total_tokens: int = 0
    completion_tokens: int | None = 0
    prompt_tokens_details: dict[str, Any] | None = None


class ClassificationData(BaseModel):
    index: int
    label: str | None
    probs: list[float] = Field(description="[reward], or [sigmoid(reward)] with the activation")
    num_classes: int


class ClassifyResponse(BaseModel):
    id: str
    object: Literal["list"] = "list"
    created: int
    model: str
    data: list[ClassificationData]
    usage: UsageInfo


class EmbeddingRequest(BaseModel):
    """The OpenAI embeddings request SGLang serves reward models with; other options are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    input: Text | list[Text] = Field(description="full conversations rendered with the chat template")


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    embedding: list[float] = Field(description="[reward]")
    index: int


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: UsageInfo


class HealthResponse(BaseModel):
    status: Literal["ok"]
    pending: int = Field(description="items accepted and not yet answered")


class InfoResponse(BaseModel):
    reward: dict[str, Any] = Field(description="what is scored: model, objective, reward kind, max_length, ...")
    normalization: dict[str, Any] | None
    limits: dict[str, Any]
    batching: dict[str, Any]
    stats: dict[str, int] = Field(description="requests, batches and items scored since startup")


class ErrorResponse(BaseModel):
    detail: str
