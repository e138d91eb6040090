"""The service advisors' screens: find a customer however the number is typed (or by its last digits), read
every time in shop time and every number as people write it, see what each call did to which appointment."""

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.models import LogEntry
from django.db.models import Case, Count, Model, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from crm.admin_filters import (
    AgentActionFilter,
    AppointmentDayFilter,
    CalendarSyncFilter,
    CallbackDoneFilter,
    CallDayFilter,
)
from crm.formatting import duration_words, national_phone, shop_time
from crm.models import (
    Appointment,
    CalendarSync,
    CallbackRequest,
    CallDirection,
    CallLog,
    Customer,
    SmsMessage,
    Vehicle,
)
from crm.phones import try_normalize_phone
from crm.services import appointment_sync_calendar_on_commit, callback_request_mark_done

if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin  # what the mixins' super() is, for mypy
else:
    _AdminBase = object

LAST_DIGITS = (4, 7)  # "0109", "555-0109": what people remember of a number


# --- Labels: what a thing is called on the desk (no database ids, shop time, national numbers) ---------------

def customer_label(customer: Customer) -> str:
    return f"{customer.name or 'Unknown'} · {national_phone(customer.phone)}"


def appointment_label(appointment: Appointment) -> str:
    return f"{appointment.get_service_type_display()} · {shop_time(appointment.scheduled_at)}"


def call_label(call: CallLog) -> str:
    other_end = call.from_number if call.direction == CallDirection.INBOUND else call.to_number
    return f"{call.get_direction_display()} call · {shop_time(call.started_at)} · {national_phone(other_end)}"


def admin_link(obj: Model | None, label: str) -> str:
    """A link to `obj`'s admin page labelled `label` ("—" for no object)."""
    if obj is None:
        return "—"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label)


def customer_link(customer: Customer | None) -> str:
    return admin_link(customer, customer.name or national_phone(customer.phone)) if customer else "—"


class PhoneSearchMixin(_AdminBase):
    """Admin search that also finds a phone number however it is typed ("(555) 010-2000", "555.010.2000") and
    by its last 4 or 7 digits ("0109", "555-0109"): rows whose `phone_search_fields` match are added to the
    ordinary results."""

    phone_search_fields: tuple[str, ...] = ()

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        results, may_have_duplicates = super().get_search_results(request, queryset, term)
        if not term or not self.phone_search_fields:
            return results, may_have_duplicates
        same_number = Q()
        digits = "".join(ch for ch in term if ch.isdigit())
        if len(digits) in LAST_DIGITS and not any(ch.isalpha() for ch in term):
            for field in self.phone_search_fields:
                same_number |= Q(**{f"{field}__endswith": digits})
        phone = try_normalize_phone(term)
        if phone is not None:
            for field in self.phone_search_fields:
                same_number |= Q(**{field: phone})
        if same_number:
            results = results | queryset.filter(same_number)
        return results, may_have_duplicates


class LabelledAdmin(admin.ModelAdmin):
    """A change page titled by what advisors call the object (`object_label`), not its model's `__str__`."""

    def object_label(self, obj: Any) -> str:
        return str(obj)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return self._relabelled(super().log_addition(request, obj, message), obj)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return self._relabelled(super().log_change(request, obj, message), obj)

    def _relabelled(self, entry: Any, obj: Any) -> Any:
        """The history entry (and "Recent actions") names the object by its desk label too."""
        if isinstance(entry, LogEntry):
            entry.object_repr = self.object_label(obj)[:200]
            entry.save(update_fields=["object_repr"])
        return entry

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: str | None = None) -> HttpResponse:
        request._desk_relabel = (str(obj), self.object_label(obj))  # type: ignore[attr-defined]
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        request._desk_relabel = (str(obj), self.object_label(obj))  # type: ignore[attr-defined]
        return super().response_change(request, obj)

    def message_user(self, request: HttpRequest, message: Any, *args: Any, **kwargs: Any) -> None:
        """"The appointment “Wheel alignment · Tue Dec 15, 12:00 PM · Marge Bouvier” was changed", not its `__str__`."""
        relabel = getattr(request, "_desk_relabel", None)
        if relabel is not None:
            old, new = (conditional_escape(text) for text in relabel)
            message = mark_safe(conditional_escape(message).replace(old, new))  # noqa: S308 - both sides escaped
        super().message_user(request, message, *args, **kwargs)

    @admin.display(description=SafeString('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, obj: Any) -> SafeString:
        """The list's row checkbox, read out (aria-label) by the object's desk label too."""
        attrs = {"class": "action-select", "aria-label": f"Select this object for an action - {self.object_label(obj)}"}
        return forms.CheckboxInput(attrs, lambda value: False).render(helpers.ACTION_CHECKBOX_NAME, str(obj.pk))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context = {"subtitle": self.object_label(obj), "object_label": self.object_label(obj),
                             **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context)


# --- Inlines on the customer page -----------------------------------------------------------------------------

class DeskTabularInline(admin.TabularInline):
    """A table of related rows, each without its `__str__` above it (ids, UTC times): the columns say it."""

    template = "admin/crm/edit_inline/tabular.html"


class VehicleInline(DeskTabularInline):
    model = Vehicle
    extra = 0
    fields = ("vin", "year", "make", "model", "license_plate")  # colour and mileage: on the vehicle's page
    show_change_link = True


class CarChoiceField(forms.ModelChoiceField):
    """A customer's cars by name ("2019 Subaru Outback"), not with their VINs too."""

    def label_from_instance(self, obj: Vehicle) -> str:
        return obj.label


class AppointmentInline(DeskTabularInline):
    model = Appointment
    extra = 0
    fields = ("scheduled_at", "service_type", "vehicle", "status", "total_cost")
    show_change_link = True
    ordering = ("-scheduled_at",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("vehicle")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name != "vehicle":
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        # Only this customer's cars, not every vehicle in the shop; listed once per page, not once per row.
        customer_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        kwargs["queryset"] = Vehicle.objects.filter(customer_id=customer_id) if customer_id else Vehicle.objects.none()
        kwargs["form_class"] = CarChoiceField
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is None:
            return None
        choices = getattr(request, "_customer_vehicle_choices", None)
        if choices is None:
            choices = list(cast(Iterable[Any], field.choices))
            request._customer_vehicle_choices = choices  # type: ignore[attr-defined]
        field.choices = choices
        return field


class ReadOnlyInline(DeskTabularInline):
    """Records shown on a page, never added, edited or deleted from it."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CallLogInline(ReadOnlyInline):
    model = CallLog
    fields = ("when", "direction", "length", "outcome")
    readonly_fields = fields
    show_change_link = True
    ordering = ("-started_at",)

    @admin.display(description="When", ordering="started_at")
    def when(self, obj: CallLog) -> str:
        return shop_time(obj.started_at)

    @admin.display(description="Length")
    def length(self, obj: CallLog) -> str:
        return duration_words(obj.duration)


class SmsMessageInline(ReadOnlyInline):
    """The customer's texts, newest first; seen by whoever may see the customer."""

    model = SmsMessage
    fk_name = "customer"
    verbose_name_plural = "texts"
    fields = ("when", "direction", "kind", "body", "status")
    readonly_fields = fields
    ordering = ("-created_at", "-id")

    @admin.display(description="When", ordering="created_at")
    def when(self, obj: SmsMessage) -> str:
        return shop_time(obj.created_at)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("crm.view_customer")


# --- Customers and vehicles -----------------------------------------------------------------------------------

@admin.register(Customer)
class CustomerAdmin(PhoneSearchMixin, LabelledAdmin):
    list_display = ("name", "phone_number", "email", "city", "vehicle_count", "texts_ok")
    search_fields = ("name", "email", "=vehicles__vin", "vehicles__license_plate")
    search_help_text = "Phone (any format, or its last 4 or 7 digits), name, email, VIN or licence plate."
    phone_search_fields = ("phone",)
    list_filter = ("sms_opt_out", "is_demo")
    readonly_fields = ("texts", "created_at", "updated_at")
    inlines = (VehicleInline, AppointmentInline, CallLogInline, SmsMessageInline)
    fieldsets = (
        (None, {"fields": ("name", "phone", "email", "texts")}),
        ("Address", {"fields": ("address", "city", "state", "zip_code")}),
        ("Record", {"fields": ("is_demo", "created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def object_label(self, obj: Customer) -> str:
        return customer_label(obj)

    def get_inlines(self, request: HttpRequest, obj: Customer | None) -> list[type[admin.options.InlineModelAdmin]]:
        """A customer being added has no texts yet."""
        return [inline for inline in self.inlines if obj is not None or inline is not SmsMessageInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_vehicle_count=Count("vehicles", distinct=True))

    @admin.display(description="Phone", ordering="phone")
    def phone_number(self, obj: Customer) -> str:
        return national_phone(obj.phone)

    @admin.display(description="Vehicles", ordering="_vehicle_count")
    def vehicle_count(self, obj: Customer) -> int:
        return obj._vehicle_count  # type: ignore[attr-defined]

    @admin.display(description="Texts")
    def texts(self, obj: Customer) -> str:
        """The opt-out flag (STOP / START replies set it; read-only here so the desk cannot overrule a STOP)."""
        if obj.sms_opt_out:
            return "Opted out (replied STOP): the shop does not text this customer until they reply START."
        return "Texts allowed (booking confirmations, reminders)."

    @admin.display(description="Texts", boolean=True, ordering="sms_opt_out")
    def texts_ok(self, obj: Customer) -> bool:
        return not obj.sms_opt_out


@admin.register(Vehicle)
class VehicleAdmin(PhoneSearchMixin, LabelledAdmin):
    list_display = ("car", "vin", "license_plate", "owner")
    list_select_related = ("customer",)
    search_fields = ("=vin", "license_plate", "make", "model", "customer__name")
    search_help_text = "VIN, licence plate, make, model, owner's name or phone (or its last 4 or 7 digits)."
    phone_search_fields = ("customer__phone",)
    list_filter = ("make",)
    autocomplete_fields = ("customer",)
    readonly_fields = ("created_at", "updated_at")

    def object_label(self, obj: Vehicle) -> str:
        return f"{obj.label} · {obj.customer.name or national_phone(obj.customer.phone)}"

    @admin.display(description="Car", ordering="year")
    def car(self, obj: Vehicle) -> str:
        return obj.label

    @admin.display(description="Owner", ordering="customer__name")
    def owner(self, obj: Vehicle) -> str:
        return customer_link(obj.customer)


# --- Appointments -----------------------------------------------------------------------------------------------

@admin.register(Appointment)
class AppointmentAdmin(PhoneSearchMixin, LabelledAdmin):
    list_display = ("when", "service_type", "status", "customer_name", "car", "total_cost")
    list_select_related = ("customer", "vehicle")
    list_filter = ("status", AppointmentDayFilter, "service_type", AgentActionFilter, CalendarSyncFilter)
    date_hierarchy = "scheduled_at"
    search_fields = ("customer__name", "=vehicle__vin", "vehicle__license_plate")
    search_help_text = "Customer phone (any format, or its last 4 or 7 digits) or name, VIN or licence plate."
    phone_search_fields = ("customer__phone",)
    autocomplete_fields = ("customer", "vehicle")
    readonly_fields = ("calls_made", "calendar_event_id", "calendar_sync", "idempotency_key", "created_at",
                       "updated_at")
    fieldsets = (
        (None, {"fields": ("customer", "vehicle", "service_type", "scheduled_at", "duration", "status", "notes",
                           "total_cost", "calendar_sync")}),
        ("Calls", {"fields": ("calls_made",)}),
        ("Technical", {"fields": ("calendar_event_id", "idempotency_key", "created_at", "updated_at"),
                       "classes": ("collapse",)}),
    )
    ordering = ("-scheduled_at",)

    def object_label(self, obj: Appointment) -> str:
        return f"{appointment_label(obj)} · {obj.customer.name or national_phone(obj.customer.phone)}"

    @admin.display(description="When", ordering="scheduled_at")
    def when(self, obj: Appointment) -> str:
        return shop_time(obj.scheduled_at)

    @admin.display(description="Customer", ordering="customer__name")
    def customer_name(self, obj: Appointment) -> str:
        return obj.customer.name or national_phone(obj.customer.phone)

    @admin.display(description="Car")
    def car(self, obj: Appointment) -> str:
        return obj.vehicle.label if obj.vehicle else "—"

    @admin.display(description="Made or changed by")
    def calls_made(self, obj: Appointment) -> str:
        if obj.pk is None:
            return "—"
        actions = obj.call_actions.select_related("call").order_by("at", "id")
        if not actions:
            return "No call: entered at the desk."
        return format_html_join(SafeString("<br>"), "{}: {}", (
            (action.get_action_display(), admin_link(action.call, call_label(action.call))) for action in actions))

    def save_model(self, request: HttpRequest, obj: Appointment, form: Any, change: bool) -> None:
        """Staff edits win (they may overbook on purpose); the calendar follows once the edit is committed."""
        obj.calendar_sync = CalendarSync.PENDING
        super().save_model(request, obj, form, change)
        appointment_sync_calendar_on_commit(appointment_id=obj.pk)


# --- Calls and callback requests --------------------------------------------------------------------------------

@admin.register(CallLog)
class CallLogAdmin(PhoneSearchMixin, LabelledAdmin):
    """Calls are records of what happened: staff read them, nobody (not even a superuser) adds, edits or
    deletes one here. They go only when `manage.py purge_records` applies the retention period."""

    list_display = ("when", "direction", "caller", "customer_name", "length", "outcome")
    list_select_related = ("customer",)
    list_filter = ("outcome", CallDayFilter, "direction")
    date_hierarchy = "started_at"
    search_fields = ("=call_sid", "customer__name")
    search_help_text = "Caller's phone (any format, or its last 4 or 7 digits), customer name or call SID."
    phone_search_fields = ("from_number", "to_number")
    fieldsets = (
        (None, {"fields": ("when", "direction", "customer_link", "caller", "length", "outcome", "recording_player",
                           "appointments_changed")}),
        ("Conversation", {"fields": ("conversation",)}),
        ("Technical", {"fields": ("call_sid", "from_number", "to_number", "protocol_errors", "latency_table"),
                       "classes": ("collapse",)}),
    )
    readonly_fields = ("when", "direction", "customer_link", "caller", "length", "outcome", "recording_player",
                       "appointments_changed", "conversation", "call_sid", "from_number", "to_number",
                       "protocol_errors", "latency_table")

    def object_label(self, obj: CallLog) -> str:
        return call_label(obj)

    @admin.display(description="When", ordering="started_at")
    def when(self, obj: CallLog) -> str:
        return shop_time(obj.started_at)

    @admin.display(description="Caller")
    def caller(self, obj: CallLog) -> str:
        return national_phone(obj.from_number if obj.direction == CallDirection.INBOUND else obj.to_number)

    @admin.display(description="Customer", ordering="customer__name")
    def customer_name(self, obj: CallLog) -> str:
        return (obj.customer.name or "Unknown") if obj.customer else "—"

    @admin.display(description="Customer")
    def customer_link(self, obj: CallLog) -> str:
        return customer_link(obj.customer)

    @admin.display(description="Length", ordering="duration")
    def length(self, obj: CallLog) -> str:
        return duration_words(obj.duration) or "—"

    @admin.display(description="Recording")
    def recording_player(self, obj: CallLog) -> str:
        if not obj.recording:
            return "No recording of this call."
        return format_html('<audio controls preload="metadata" src="{}">'
                           '<a href="{}">Download the recording</a></audio>', obj.recording.url, obj.recording.url)

    @admin.display(description="Appointments")
    def appointments_changed(self, obj: CallLog) -> str:
        actions = obj.actions.select_related("appointment").order_by("at", "id")
        if not actions:
            return "None booked, moved or cancelled on this call."
        return format_html_join(SafeString("<br>"), "{}: {}", (
            (action.get_action_display(), admin_link(action.appointment, appointment_label(action.appointment)))
            for action in actions))

    @admin.display(description="Conversation")
    def conversation(self, obj: CallLog) -> SafeString:
        return SafeString(render_to_string("crm/transcript.html", {"turns": obj.transcript or []}))

    @admin.display(description="Latency per turn (ms)")
    def latency_table(self, obj: CallLog) -> SafeString:
        return SafeString(render_to_string("crm/latency.html", {"turns": obj.latency or []}))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CallbackRequest)
class CallbackRequestAdmin(PhoneSearchMixin, LabelledAdmin):
    """Messages the agent took for a call back: open ones first, newest first. What the caller left is a
    record (read-only); staff call back and mark it done."""

    list_display = ("when", "is_done", "phone_number", "customer_name", "short_message", "call_link")
    list_select_related = ("customer", "call")
    list_filter = (CallbackDoneFilter,)
    search_fields = ("customer__name", "message", "=call_sid")
    search_help_text = "Phone (any format, or its last 4 or 7 digits), customer name or words of the message."
    phone_search_fields = ("phone",)
    ordering = (Case(When(done_at__isnull=True, then=Value(0)), default=Value(1)).asc(),  # type: ignore[assignment]
                "-created_at")  # open first (Django's admin takes expressions here; its stubs say only names)
    fieldsets = (
        (None, {"fields": ("when", "phone_number", "customer_link", "message", "call_link", "done_when", "done_by")}),
        ("Technical", {"fields": ("call_sid",), "classes": ("collapse",)}),
    )
    readonly_fields = ("when", "phone_number", "customer_link", "message", "call_link", "done_when", "done_by",
                       "call_sid")
    actions = ("mark_done",)

    def object_label(self, obj: CallbackRequest) -> str:
        return f"Call back {national_phone(obj.phone) or 'unknown number'} · {shop_time(obj.created_at)}"

    @admin.display(description="When", ordering="created_at")
    def when(self, obj: CallbackRequest) -> str:
        return shop_time(obj.created_at)

    @admin.display(description="Done", ordering="done_at")
    def done_when(self, obj: CallbackRequest) -> str:
        return shop_time(obj.done_at) or "Not yet"

    @admin.display(description="Done", boolean=True)
    def is_done(self, obj: CallbackRequest) -> bool:
        return obj.done

    @admin.display(description="Phone", ordering="phone")
    def phone_number(self, obj: CallbackRequest) -> str:
        return national_phone(obj.phone) or "—"

    @admin.display(description="Customer", ordering="customer__name")
    def customer_name(self, obj: CallbackRequest) -> str:
        return (obj.customer.name or "Unknown") if obj.customer else "—"

    @admin.display(description="Customer")
    def customer_link(self, obj: CallbackRequest) -> str:
        return customer_link(obj.customer)

    @admin.display(description="Message")
    def short_message(self, obj: CallbackRequest) -> str:
        return obj.message if len(obj.message) <= 80 else obj.message[:79] + "…"

    @admin.display(description="Call (transcript)")
    def call_link(self, obj: CallbackRequest) -> str:
        if obj.call is None:
            return "—"
        return admin_link(obj.call, shop_time(obj.call.started_at))

    @admin.action(description="Mark done (called back)", permissions=["change"])
    def mark_done(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = callback_request_mark_done(callback_requests=queryset, user=request.user)
        self.message_user(request, f"{changed} callback request(s) marked done.")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
