"""INVITE dialogs (RFC 3261 12): identity, route set, remote target and in-dialog requests.

Sans-IO: a `Dialog` is made from the INVITE a UAS answers (`Dialog.from_invite`), tells
whether a later request belongs to it (`matches`), and builds the requests we send inside
it (`request`: BYE, INFO, re-INVITE ...) with the right Request-URI, Route, tags and CSeq.

A `Dialog` is identity and addressing only: where a dialog is in its life (early, confirmed,
terminated) is the INVITE dialog engine's state table (`legs/invite_dialog`), the one place
that changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from acdgate.gateway.sip.message import (
    Headers,
    NameAddr,
    Request,
    Response,
    SipSyntaxError,
    new_branch,
)


@dataclass(slots=True)
class Dialog:
    """One dialog, ours as UAS (`from_invite`) or as UAC (`from_response`)."""

    call_id: str
    local_tag: str
    remote_tag: str | None
    local: NameAddr  # our From in requests we send (the INVITE's To, with our tag)
    remote: NameAddr  # their address (the INVITE's From)
    remote_target: str  # the Contact of the INVITE: where in-dialog requests go (RFC 3261 12.1.1)
    route_set: tuple[str, ...]  # Record-Route of the INVITE, in order (UAS: 12.1.1)
    local_contact: str
    remote_cseq: int
    invite_cseq: int
    local_cseq: int = field(default=1)

    @classmethod
    def from_invite(cls, invite: Request, local_tag: str, local_contact: str) -> Dialog:
        """The dialog a 2xx (or 1xx with a tag) to `invite` creates; SipSyntaxError when it lacks parts."""
        from_addr = invite.from_addr
        to_addr = invite.to_addr
        cseq = invite.cseq
        if from_addr is None or to_addr is None or cseq is None or invite.call_id is None:
            raise SipSyntaxError("INVITE lacks From, To, CSeq or Call-ID")
        contacts = invite.contacts
        if not contacts:
            raise SipSyntaxError("Missing Contact in INVITE")
        return cls(
            call_id=invite.call_id,
            local_tag=local_tag,
            remote_tag=from_addr.tag,
            local=to_addr.with_param("tag", local_tag),
            remote=from_addr,
            remote_target=str(contacts[0].uri),
            route_set=tuple(invite.headers.get_all("Record-Route")),
            local_contact=local_contact,
            remote_cseq=cseq[0],
            invite_cseq=cseq[0],
        )

    @classmethod
    def from_response(cls, invite: Request, response: Response, local_contact: str) -> Dialog:
        """The dialog a 2xx to an INVITE we sent creates (RFC 3261 12.1.2, UAC side)."""
        from_addr = invite.from_addr
        to_addr = response.to_addr
        cseq = invite.cseq
        if from_addr is None or to_addr is None or cseq is None or invite.call_id is None:
            raise SipSyntaxError("INVITE or response lacks From, To, CSeq or Call-ID")
        if from_addr.tag is None:
            raise SipSyntaxError("our INVITE has no From tag")
        contacts = response.contacts
        target = str(contacts[0].uri) if contacts else invite.uri
        return cls(
            call_id=invite.call_id,
            local_tag=from_addr.tag,
            remote_tag=to_addr.tag,
            local=from_addr,
            remote=to_addr,
            remote_target=target,
            route_set=tuple(reversed(response.headers.get_all("Record-Route"))),
            local_contact=local_contact,
            remote_cseq=0,
            invite_cseq=cseq[0],
            local_cseq=cseq[0],
        )

    def matches(self, request: Request, *, lenient_to_tag: bool = False) -> bool:
        """Whether `request` is inside this dialog (RFC 3261 12.2.2: Call-ID and both tags).

        `lenient_to_tag` accepts an ACK whose To tag is not ours: pyVoIP 1.6 ACKs a 2xx with a
        fresh To tag (docs/interop.md); the Call-ID and From tag still have to match.
        """
        if request.call_id != self.call_id:
            return False
        from_addr = request.from_addr
        to_addr = request.to_addr
        if from_addr is None or from_addr.tag != self.remote_tag:
            return False
        if to_addr is not None and to_addr.tag == self.local_tag:
            return True
        return lenient_to_tag

    def accept_remote_cseq(self, request: Request) -> bool:
        """RFC 3261 12.2.2: a request's CSeq must exceed the last one from the peer (ACK and
        CANCEL excepted); remembers it. False: answer 500."""
        cseq = request.cseq
        if cseq is None:
            return False
        if request.method in ("ACK", "CANCEL"):
            return True
        if cseq[0] <= self.remote_cseq and self.remote_cseq != 0:
            return False
        self.remote_cseq = cseq[0]
        return True

    def update_target(self, message: Request | Response) -> None:
        """RFC 3261 12.2.1.2 / 12.2.2: a re-INVITE or UPDATE (or its 2xx) may move the remote target."""
        contacts = message.contacts
        if contacts:
            self.remote_target = str(contacts[0].uri)

    def request(self, method: str, via: str, *, body: bytes = b"", content_type: str | None = None,
                extra: list[tuple[str, str]] | None = None, ack_cseq: int | None = None) -> Request:
        """A request inside the dialog (RFC 3261 12.2.1.1); `via` is our sent-by without branch.

        An ACK (for a 2xx, RFC 3261 13.2.2.4) carries the INVITE's CSeq number (`ack_cseq`
        for a re-INVITE's); any other request takes the next local number.
        """
        if method == "ACK":
            number = self.invite_cseq if ack_cseq is None else ack_cseq
        else:
            self.local_cseq = max(self.local_cseq, self.invite_cseq) + 1
            number = self.local_cseq
        routes = list(self.route_set)
        uri = self.remote_target
        # RFC 3261 12.2.1.1: loose routing (lr) keeps the remote target as Request-URI
        if routes and ";lr" not in routes[0]:
            uri = routes[0].strip("<>")
            routes = [*routes[1:], f"<{self.remote_target}>"]
        headers = Headers([
            ("Via", f"{via};branch={new_branch()}"),
            ("Max-Forwards", "70"),
            ("From", str(self.local)),
            ("To", str(self.remote)),
            ("Call-ID", self.call_id),
            ("CSeq", f"{number} {method}"),
        ])
        for route in routes:
            headers.add("Route", route)
        headers.add("Contact", f"<{self.local_contact}>")
        for name, value in extra or ():
            headers.add(name, value)
        if content_type is not None:
            headers.add("Content-Type", content_type)
        return Request(method, uri, headers, body)
