"""The simulator's live data: lookups, the changes the API can make, and reply shapes.

Stored records are flat dicts with every key present (`None` = unset); replies are built from
them on demand, with nested objects resolved and empty fields left out, as Incident IQ does.
Hold `lock` while reading or changing records from another thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kiosk.simulator.dataset import Record, Tables, build_catalog, build_tables, format_date
from kiosk.simulator.demo import DEMO, guid


def now_stamp() -> str:
    return format_date(datetime.now())


def _prune(record: Record) -> Record:
    """Leave out empty and default values, like the real service."""
    return {k: v for k, v in record.items() if v is not None and v != "" and v is not False}


class SimState:
    """All simulated records. Methods take the lock themselves; callers that change raw
    records directly should hold `lock` (an RLock, so nesting is fine)."""

    def __init__(self, seed: int = DEMO.seed, *, resettable: bool = True) -> None:
        """`resettable=False` (demo mode) builds the tables once and keeps no pristine
        copy: about 5 MB less, and `reset()` is not available."""
        self.seed = seed
        self.lock = threading.RLock()
        catalog = build_catalog()
        self.locations: dict[str, Record] = catalog.locations
        self.rooms: dict[str, Record] = catalog.rooms
        self.storage_locations: dict[str, Record] = catalog.storage_locations
        self.models: dict[str, Record] = catalog.models
        self.status_types: dict[str, Record] = catalog.status_types
        self.roles: dict[str, str] = catalog.roles
        self._pristine: Tables | None
        if resettable:
            self._pristine = build_tables(seed)
            self._tables = self._pristine.copy()
        else:
            # Built afresh, not from the cache: these tables are mutated in place.
            self._pristine = None
            self._tables = build_tables.__wrapped__(seed)

    # ------------------------------------------------------------------ tables
    @property
    def assets(self) -> dict[str, Record]:
        return self._tables.assets

    @property
    def users(self) -> dict[str, Record]:
        return self._tables.users

    @property
    def checkouts(self) -> list[Record]:
        return self._tables.checkouts

    @property
    def tickets(self) -> list[Record]:
        return self._tables.tickets

    def reset(self) -> None:
        """Back to the seeded data (in place: references to this object stay valid)."""
        if self._pristine is None:
            raise RuntimeError("this simulator was started without a pristine copy to reset to")
        with self.lock:
            self._tables = self._pristine.copy()

    # ------------------------------------------------------------------ lookups
    def asset(self, asset_id: str) -> Record | None:
        with self.lock:
            return self.assets.get(_norm_id(asset_id))

    def asset_by_tag(self, tag: str) -> list[Record]:
        return self._assets_where("AssetTag", tag)

    def asset_by_serial(self, serial: str) -> list[Record]:
        return self._assets_where("SerialNumber", serial)

    def _assets_where(self, field: str, text: str) -> list[Record]:
        """Live assets whose `field` equals `text`, ignoring case (as the real lookups do)."""
        wanted = text.casefold()
        with self.lock:
            return [
                a
                for a in self.assets.values()
                if (a[field] or "").casefold() == wanted and not a["IsDeleted"]
            ]

    def assets_for(self, user_id: str) -> list[Record]:
        wanted = _norm_id(user_id)
        with self.lock:
            return [
                a for a in self.assets.values() if a["OwnerId"] == wanted and not a["IsDeleted"]
            ]

    def user(self, user_id: str) -> Record | None:
        with self.lock:
            return self.users.get(_norm_id(user_id))

    def user_by_school_id(self, number: str) -> Record | None:
        with self.lock:
            return next(
                (u for u in self.users.values() if u["SchoolIdNumber"] == number.strip()), None
            )

    def status_type_by_name(self, name: str) -> Record | None:
        wanted = name.casefold()
        return next((s for s in self.status_types.values() if s["Name"].casefold() == wanted), None)

    def open_checkout(self, asset_id: str) -> Record | None:
        wanted = _norm_id(asset_id)
        with self.lock:
            return next((c for c in self.checkouts if c["AssetId"] == wanted and c["IsOpen"]), None)

    def activities(self, asset_id: str) -> list[Record]:
        """History of an asset, newest first."""
        with self.lock:
            records = list(self._tables.activities.get(_norm_id(asset_id), []))
        return sorted(records, key=lambda r: (r["ActivityDate"], r["Sequence"]), reverse=True)

    # ------------------------------------------------------------------ changes
    def touch(self, asset: Record) -> str:
        stamp = now_stamp()
        asset["ModifiedDate"] = stamp
        return stamp

    def add_activity(self, asset_id: str, kind: str, text: str, **extra: Any) -> Record:
        with self.lock:
            self._tables.sequence += 1
            seq = self._tables.sequence
            record: Record = {
                "ActivityId": guid(self.seed, "activity", seq),
                "ActivityDate": now_stamp(),
                "ActivityType": kind,
                "Description": text,
                "AssetId": asset_id,
                "CreatedById": DEMO.api_user_id,
                "Sequence": seq,
            }
            record.update(extra)
            self._tables.activities.setdefault(asset_id, []).append(record)
            return record

    def close_checkout(self, asset_id: str) -> Record | None:
        with self.lock:
            checkout = self.open_checkout(asset_id)
            if checkout is not None:
                checkout["IsOpen"] = False
                checkout["CheckinDate"] = now_stamp()
            return checkout

    def set_owner(
        self, asset_id: str, user_id: str | None, *, open_checkout: bool = False
    ) -> Record:
        """Change the owner as `POST /assets/{id}/owner` (or remove-owner for None) would:
        any open checkout is closed. With `open_checkout`, a checkout is opened for the new
        owner, as the checkout route does. For tests that act behind the kiosk's back."""
        with self.lock:
            asset = self.assets[_norm_id(asset_id)]
            old = asset["OwnerId"]
            new = _norm_id(user_id) if user_id else None
            if new is not None and new not in self.users:
                raise KeyError(f"unknown user {user_id}")
            if old == new and not open_checkout:
                return asset
            if old != new:
                self.close_checkout(asset["AssetId"])
                if old is not None:
                    asset["PreviousOwnerId"] = old
                asset["OwnerId"] = new
                self.touch(asset)
            if new is None:
                self.add_activity(
                    asset["AssetId"], "OwnerRemoved", "Owner removed", PreviousOwnerId=old
                )
            elif open_checkout:
                if self.open_checkout(asset["AssetId"]) is None:
                    self.start_checkout(asset, new, previous_owner_id=old if old != new else None)
            else:
                name = self.users[new]["Name"]
                self.add_activity(
                    asset["AssetId"],
                    "OwnerChanged",
                    f"Owner set to {name}",
                    OwnerId=new,
                    PreviousOwnerId=old,
                )
            return asset

    def start_checkout(
        self,
        asset: Record,
        user_id: str,
        *,
        due_date: str | None = None,
        ticket_id: str | None = None,
        source: str | None = None,
        previous_owner_id: str | None = None,
    ) -> Record:
        with self.lock:
            self._tables.sequence += 1
            stamp = now_stamp()
            checkout: Record = {
                "CheckoutId": guid(self.seed, "checkout", self._tables.sequence),
                "AssetId": asset["AssetId"],
                "OwnerId": user_id,
                "CheckoutDate": stamp,
                "DueDate": due_date,
                "CheckinDate": None,
                "IsOpen": True,
                "TicketId": ticket_id,
                "Source": source,
            }
            self.checkouts.append(checkout)
            name = self.users[user_id]["Name"]
            if previous_owner_id:
                previous = self.users.get(previous_owner_id, {}).get("Name", "unknown")
                kind, text = "Transfer", f"Transferred from {previous} to {name}"
            else:
                kind, text = "CheckOut", f"Checked out to {name}"
            self.add_activity(
                asset["AssetId"],
                kind,
                text,
                OwnerId=user_id,
                PreviousOwnerId=previous_owner_id,
            )
            return checkout

    def set_status(self, asset_id: str, status_type_id: str) -> Record:
        with self.lock:
            asset = self.assets[_norm_id(asset_id)]
            new = self.status_types[_norm_id(status_type_id)]
            old = self.status_types.get(asset["StatusTypeId"] or "", {}).get("Name", "none")
            if asset["StatusTypeId"] != new["AssetStatusTypeId"]:
                asset["StatusTypeId"] = new["AssetStatusTypeId"]
                self.touch(asset)
                self.add_activity(
                    asset["AssetId"],
                    "StatusChanged",
                    f"Status changed from {old} to {new['Name']}",
                    StatusTypeId=new["AssetStatusTypeId"],
                )
            return asset

    def add_ticket(self, fields: Record, asset_ids: Iterable[str]) -> Record:
        with self.lock:
            number = self._tables.next_ticket_number
            self._tables.next_ticket_number += 1
            ticket_id = guid(self.seed, "ticket", number)
            ids = list(dict.fromkeys(asset_ids))
            ticket: Record = {
                **fields,
                "TicketId": ticket_id,
                "TicketNumber": number,
                "IsClosed": False,
                "Assets": [{"AssetId": a} for a in ids],
                "CreatedDate": now_stamp(),
                "CreatedById": DEMO.api_user_id,
            }
            self.tickets.append(ticket)
            for asset_id in ids:
                asset = self.assets[asset_id]
                asset["OpenTickets"] = (asset["OpenTickets"] or 0) + 1
                self.touch(asset)
                self.add_activity(
                    asset_id,
                    "TicketCreated",
                    f"Ticket #{number} opened: {fields.get('Subject', '')}",
                    TicketId=ticket_id,
                )
            return ticket

    def close_ticket(self, ticket_id: str) -> None:
        with self.lock:
            for ticket in self.tickets:
                if ticket["TicketId"] == ticket_id and not ticket["IsClosed"]:
                    ticket["IsClosed"] = True
                    for link in ticket["Assets"]:
                        asset = self.assets.get(link["AssetId"])
                        if asset is not None and asset["OpenTickets"]:
                            asset["OpenTickets"] -= 1

    # ------------------------------------------------------------------ reply shapes
    def location_ref(self, location_id: str | None) -> Record | None:
        loc = self.locations.get(location_id or "")
        if loc is None:
            return None
        return {
            "LocationId": loc["LocationId"],
            "Name": loc["Name"],
            "Abbreviation": loc["Abbreviation"],
        }

    def api_location(self, loc: Record) -> Record:
        return {
            "LocationId": loc["LocationId"],
            "Name": loc["Name"],
            "Abbreviation": loc["Abbreviation"],
            "LocationTypeName": loc["LocationTypeName"],
            "LocationType": {"Name": loc["LocationTypeName"]},
            "SiteId": DEMO.site_id,
        }

    def api_room(self, room: Record) -> Record:
        return {
            "LocationRoomId": room["LocationRoomId"],
            "LocationId": room["LocationId"],
            "Name": room["Name"],
        }

    def user_ref(self, user_id: str | None) -> Record | None:
        """The short person object nested in assets (Owner, PreviousOwner)."""
        user = self.users.get(user_id or "")
        if user is None:
            return None
        loc = self.locations.get(user["LocationId"] or "")
        return _prune(
            {
                "UserId": user["UserId"],
                "Name": user["Name"],
                "FirstName": user["FirstName"],
                "LastName": user["LastName"],
                "Email": user["Email"],
                "Username": user["Username"],
                "SchoolIdNumber": user["SchoolIdNumber"],
                "Grade": user["Grade"],
                "RoleId": user["RoleId"],
                "RoleName": self.roles.get(user["RoleId"]),
                "LocationId": user["LocationId"],
                "LocationName": loc["Name"] if loc else None,
            }
        ) | {"IsActive": bool(user["IsActive"])}

    def api_user(self, user: Record) -> Record:
        loc = self.locations.get(user["LocationId"] or "")
        role_name = self.roles.get(user["RoleId"])
        body = _prune(
            {
                "UserId": user["UserId"],
                "Name": user["Name"],
                "FirstName": user["FirstName"],
                "LastName": user["LastName"],
                "Email": user["Email"],
                "Username": user["Username"],
                "SchoolIdNumber": user["SchoolIdNumber"],
                "Grade": user["Grade"],
                "Homeroom": user["Homeroom"],
                "LocationId": user["LocationId"],
                "LocationName": loc["Name"] if loc else None,
                "Location": self.location_ref(user["LocationId"]),
                "RoleId": user["RoleId"],
                "Role": {"RoleId": user["RoleId"], "Name": role_name} if role_name else None,
                "CreatedDate": user["CreatedDate"],
                "ModifiedDate": user["ModifiedDate"],
            }
        )
        # People carry both flags explicitly: "inactive" must be visible, not implied.
        body["IsActive"] = bool(user["IsActive"])
        body["IsDeleted"] = bool(user["IsDeleted"])
        return body

    def api_asset(self, asset: Record) -> Record:
        model = self.models.get(asset["ModelId"] or "")
        status = self.status_types.get(asset["StatusTypeId"] or "")
        room = self.rooms.get(asset["LocationRoomId"] or "")
        storage = self.storage_locations.get(asset["StorageLocationId"] or "")
        loc = self.locations.get(asset["LocationId"] or "")
        open_tickets = asset["OpenTickets"] or 0
        return _prune(
            {
                "AssetId": asset["AssetId"],
                "SiteId": DEMO.site_id,
                "AssetTag": asset["AssetTag"],
                "SerialNumber": asset["SerialNumber"],
                "Name": asset["Name"],
                "AssetTypeName": model["CategoryName"] if model else None,
                "ModelId": asset["ModelId"],
                "Model": _model_ref(model) if model else None,
                "OwnerId": asset["OwnerId"],
                "Owner": self.user_ref(asset["OwnerId"]),
                "PreviousOwnerId": asset["PreviousOwnerId"],
                "PreviousOwner": self.user_ref(asset["PreviousOwnerId"]),
                "LocationId": asset["LocationId"],
                "LocationName": loc["Name"] if loc else None,
                "Location": self.location_ref(asset["LocationId"]),
                "LocationRoomId": asset["LocationRoomId"],
                "LocationRoom": {"LocationRoomId": room["LocationRoomId"], "Name": room["Name"]}
                if room
                else None,
                "StorageLocationId": asset["StorageLocationId"],
                "StorageLocationName": storage["Name"] if storage else None,
                "StorageUnitNumber": asset["StorageUnitNumber"],
                "StorageSlotNumber": asset["StorageSlotNumber"],
                "StatusTypeId": asset["StatusTypeId"],
                "Status": {
                    "AssetStatusTypeId": status["AssetStatusTypeId"],
                    "Name": status["Name"],
                    "IsRetired": status["IsRetired"],
                }
                if status
                else None,
                "Notes": asset["Notes"],
                "HasOpenTickets": open_tickets > 0,
                "OpenTickets": open_tickets or None,
                "PurchasedDate": asset["PurchasedDate"],
                "CreatedDate": asset["CreatedDate"],
                "ModifiedDate": asset["ModifiedDate"],
                "IsDeleted": asset["IsDeleted"],
            }
        )

    def api_activity(self, activity: Record) -> Record:
        body = {k: v for k, v in activity.items() if k != "Sequence"}
        for key, ref in (("OwnerId", "Owner"), ("PreviousOwnerId", "PreviousOwner")):
            person = self.users.get(body.get(key) or "")
            if person is not None:
                body[ref] = {"UserId": person["UserId"], "Name": person["Name"]}
        creator = self.users.get(body.get("CreatedById") or "")
        if creator is not None:
            body["CreatedBy"] = {"UserId": creator["UserId"], "Name": creator["Name"]}
        return _prune(body)


def _model_ref(model: Record) -> Record:
    return {
        "ModelId": model["ModelId"],
        "Name": model["Name"],
        "Manufacturer": {
            "ManufacturerId": model["ManufacturerId"],
            "Name": model["ManufacturerName"],
        },
        "Category": {"CategoryId": model["CategoryId"], "Name": model["CategoryName"]},
    }


def _norm_id(value: str | None) -> str:
    """GUIDs compare case-insensitively; stored ids are lower case."""
    return (value or "").strip().lower()
