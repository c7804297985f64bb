"""OpenAI's Conversations API over the conversation store: `/v1/conversations` (create, get, update, delete) and
its items (list, add, get). Items are listed oldest first unless `order=desc` is asked for (a conversation reads
top to bottom), unlike OpenAI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Query, Request

from serving.shapes import message_item
from serving.store.conversations import ConversationStore
from serving.web.errors import documented
from serving.web.responses_schemas import ConversationCreate, ConversationUpdate, ItemsCreate

if TYPE_CHECKING:
    from serving.web.api import Api


class ConversationsApi:
    def __init__(self, api: Api, store: ConversationStore) -> None:
        self.api = api
        self.store = store

    def _user(self, request: Request) -> str:
        return self.api.identity(request).user

    def create_conversation(self, request: Request, body: ConversationCreate | None = None) -> dict[str, Any]:
        user = self._user(request)
        items = [message_item(i.role, i.text()) for i in (body.items if body and body.items else [])]
        return self.store.create(user, body.metadata if body else None, items)

    def get_conversation(self, conversation_id: str, request: Request) -> dict[str, Any]:
        return self.store.get(self._user(request), conversation_id)

    def update_conversation(self, conversation_id: str, body: ConversationUpdate, request: Request) -> dict:
        return self.store.update(self._user(request), conversation_id, body.metadata)

    def delete_conversation(self, conversation_id: str, request: Request) -> dict[str, Any]:
        self.store.delete(self._user(request), conversation_id)
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    def list_items(
        self,
        conversation_id: str,
        request: Request,
        limit: int = Query(20, ge=1, le=100),
        order: Literal["asc", "desc"] = "asc",
        after: str | None = None,
    ) -> dict[str, Any]:
        data, more = self.store.items(self._user(request), conversation_id, order, limit, after)
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": more,
        }

    def add_items(self, conversation_id: str, body: ItemsCreate, request: Request) -> dict[str, Any]:
        data = self.store.add_items(
            self._user(request), conversation_id, [message_item(i.role, i.text()) for i in body.items]
        )
        return {"object": "list", "data": data, "first_id": data[0]["id"], "last_id": data[-1]["id"],
                "has_more": False}  # fmt: skip

    def get_item(self, conversation_id: str, item_id: str, request: Request) -> dict[str, Any]:
        return self.store.item(self._user(request), conversation_id, item_id)


def add_conversation_routes(router: APIRouter, api: ConversationsApi) -> None:
    """The /v1/conversations routes (before the router's catch-all)."""
    errors = documented(400, 401, 404, 413, 429, 503)
    router.add_api_route("/conversations", api.create_conversation, methods=["POST"], responses=errors)
    router.add_api_route("/conversations/{conversation_id}", api.get_conversation, methods=["GET"], responses=errors)
    router.add_api_route(
        "/conversations/{conversation_id}", api.update_conversation, methods=["POST"], responses=errors
    )
    router.add_api_route(
        "/conversations/{conversation_id}", api.delete_conversation, methods=["DELETE"], responses=errors
    )
    router.add_api_route("/conversations/{conversation_id}/items", api.list_items, methods=["GET"], responses=errors)
    router.add_api_route("/conversations/{conversation_id}/items", api.add_items, methods=["POST"], responses=errors)
    router.add_api_route(
        "/conversations/{conversation_id}/items/{item_id}", api.get_item, methods=["GET"], responses=errors
    )
