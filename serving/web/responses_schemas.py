"""The request bodies of the Responses and Conversations APIs (serving/web/responses.py, conversations.py): message
items, the user's approval of an action, the response request and the conversation bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from serving.web.schemas import TEXT, Filters


class InputContentPart(BaseModel):
    # One part of an input message's content; the chat API's is schemas.ContentPart. A comment, not a docstring,
    # and the old title, so that the OpenAPI schema stays as it was (only its component name is now unique).
    model_config = ConfigDict(extra="allow", title="ContentPart")
    type: str = Field(description="input_text or output_text")
    text: str = ""


class InputItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[InputContentPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class ApprovalResponse(BaseModel):
    """The user's answer to an action that changes something (OpenAI's approval item shape)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["mcp_approval_response"]
    approval_request_id: str = Field(min_length=1)
    approve: bool


class ConversationRef(BaseModel):
    id: str = Field(min_length=1)


class ResponsesRequest(BaseModel):
    """OpenAI's response request; fields that do not apply here (tools, reasoning, ...) are accepted and ignored."""

    # Declared fields are typed strictly (no "5" for max_output_tokens); conversation and previous_response_id
    # exclude each other.
    model_config = ConfigDict(
        extra="allow", strict=True, json_schema_extra={"not": {"required": ["conversation", "previous_response_id"]}}
    )
    model: str | None = Field(default=None, description="kb-assistant (GET /v1/models); omit for the default")
    input: (
        Annotated[str, Field(min_length=1, pattern=TEXT)]
        | Annotated[
            list[InputItem | ApprovalResponse],
            Field(
                min_length=1,
                json_schema_extra={
                    "contains": {
                        "required": ["role", "content"],
                        "properties": {"role": {"const": "user"}, "content": {"type": "string", "pattern": TEXT}},
                    }
                },
            ),
        ]
    ) = Field(description="the question, or message items with at least one user message (the last is the question)")
    conversation: str | ConversationRef | None = None
    previous_response_id: str | None = None
    stream: bool = False
    store: bool = True
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_output_tokens: int | None = Field(default=None, ge=1)
    metadata: dict[str, str] | None = None
    filters: Filters | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = Field(
        default=None, description='the configured actions: "auto" (default), "none", or {"type": "function", "name"}'
    )


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[InputItem] | None = Field(default=None, max_length=20)
    metadata: dict[str, str] | None = None


class ConversationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metadata: dict[str, str]


class ItemsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[InputItem] = Field(min_length=1, max_length=20)
