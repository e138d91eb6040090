"""The service advisors' screens: find a customer however the number is typed, browse the day."""

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin
from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from crm.models import Appointment, CalendarSync, CallbackRequest, CallLog, Customer, Vehicle
from crm.phones import try_normalize_phone
from crm.services import appointment_sync_calendar_on_commit, callback_request_mark_done
from scheduling.shop import day_window, shop_today

if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin  # what the mixin's super() is, for mypy
else:
    _AdminBase = object


class PhoneSearchMixin(_AdminBase):
    """Admin search that also finds a phone number however it is typed ("(555) 010-2000", "555.010.2000"):
    rows whose `phone_search_fields` equal the term's E.164 form are added to the ordinary results."""

    phone_search_fields: tuple[str, ...] = ()

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        results, may_have_duplicates = super().get_search_results(request, queryset, term)
        phone = try_normalize_phone(term) if term else None
        if phone is not None and self.phone_search_fields:
            same_number = Q()
            for field in self.phone_search_fields:
                same_number |= Q(**{field: phone})
            results = results | queryset.filter(same_number)
        return results, may_have_duplicates


class VehicleInline(admin.TabularInline):
    model = Vehicle
    extra = 0
    fields = ("vin", "year", "make", "model", "color", "license_plate", "mileage")
    show_change_link = True


class AppointmentInline(admin.TabularInline):
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
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is None:
            return None
        choices = getattr(request, "_customer_vehicle_choices", None)
        if choices is None:
            choices = list(cast(Iterable[Any], field.choices))
            request._customer_vehicle_choices = choices  # type: ignore[attr-defined]
        field.choices = choices
        return field


class CallLogInline(admin.TabularInline):
    model = CallLog
    extra = 0
    fields = ("started_at", "direction", "duration", "outcome")
    readonly_fields = fields
    show_change_link = True
    can_delete = False
    ordering = ("-started_at",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(PhoneSearchMixin, admin.ModelAdmin):
    list_display = ("name", "phone", "email", "city", "vehicle_count", "created_at")
    search_fields = ("name", "email", "=vehicles__vin", "vehicles__license_plate")
    search_help_text = "Phone (any format), name, email, VIN or licence plate."
    phone_search_fields = ("phone",)
    list_filter = ("state", "is_demo")
    readonly_fields = ("created_at", "updated_at")
    inlines = (VehicleInline, AppointmentInline, CallLogInline)
    fieldsets = (
        (None, {"fields": ("name", "phone", "email")}),
        ("Address", {"fields": ("address", "city", "state", "zip_code")}),
        ("Record", {"fields": ("is_demo", "created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_vehicle_count=Count("vehicles", distinct=True))

    @admin.display(description="Vehicles", ordering="_vehicle_count")
    def vehicle_count(self, obj: Customer) -> int:
        return obj._vehicle_count  # type: ignore[attr-defined]



@admin.register(Vehicle)
class VehicleAdmin(PhoneSearchMixin, admin.ModelAdmin):
    list_display = ("vin", "year", "make", "model", "license_plate", "customer")
    list_select_related = ("customer",)
    search_fields = ("=vin", "license_plate", "make", "model", "customer__name")
    search_help_text = "VIN, licence plate, make, model, owner's name or phone."
    phone_search_fields = ("customer__phone",)
    list_filter = ("make",)
    autocomplete_fields = ("customer",)
    readonly_fields = ("created_at", "updated_at")


class AppointmentDayFilter(admin.SimpleListFilter):
    """Days as the shop counts them (its own timezone), not UTC."""

    title = "day"
    parameter_name = "day"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("today", "Today"),
            ("tomorrow", "Tomorrow"),
            ("next7", "Next 7 days"),
            ("past", "Past"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        today = shop_today()
        ranges = {
            "today": day_window(today),
            "tomorrow": day_window(today + timedelta(days=1)),
            "next7": (timezone.now(), day_window(today + timedelta(days=7))[1]),
        }
        value = self.value()
        if value in ranges:
            start, end = ranges[value]
            return queryset.filter(scheduled_at__gte=start, scheduled_at__lt=end)
        if value == "past":
            return queryset.filter(scheduled_at__lt=timezone.now())
        return queryset


@admin.register(Appointment)
class AppointmentAdmin(PhoneSearchMixin, admin.ModelAdmin):
    list_display = ("scheduled_at", "service_type", "status", "customer", "vehicle", "total_cost")
    list_select_related = ("customer", "vehicle")
    list_filter = ("status", "service_type", AppointmentDayFilter)
    date_hierarchy = "scheduled_at"
    search_fields = ("customer__name", "=vehicle__vin", "vehicle__license_plate")
    search_help_text = "Customer phone (any format) or name, VIN or licence plate."
    phone_search_fields = ("customer__phone",)
    autocomplete_fields = ("customer", "vehicle")
    readonly_fields = ("calendar_event_id", "calendar_sync", "idempotency_key", "created_at", "updated_at")
    ordering = ("-scheduled_at",)

    def save_model(self, request: HttpRequest, obj: Appointment, form: Any, change: bool) -> None:
        """Staff edits win (they may overbook on purpose); the calendar follows once the edit is committed."""
        obj.calendar_sync = CalendarSync.PENDING
        super().save_model(request, obj, form, change)
        appointment_sync_calendar_on_commit(appointment_id=obj.pk)


@admin.register(CallLog)
class CallLogAdmin(PhoneSearchMixin, admin.ModelAdmin):
    """Calls are records of what happened: staff read them, nobody (not even a superuser) adds, edits or
    deletes one here. They go only when `manage.py purge_records` applies the retention period."""

    list_display = ("started_at", "direction", "caller", "customer", "duration", "outcome")
    list_select_related = ("customer",)
    list_filter = ("direction", "outcome")
    date_hierarchy = "started_at"
    search_fields = ("call_sid", "customer__name")
    phone_search_fields = ("from_number", "to_number")
    fields = ("call_sid", "direction", "customer", "from_number", "to_number", "started_at", "duration", "outcome",
              "conversation", "latency_table")
    readonly_fields = fields

    @admin.display(description="Caller")
    def caller(self, obj: CallLog) -> str:
        return obj.from_number if obj.direction == "inbound" else obj.to_number

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


class CallbackDoneFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "done"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Open"), ("yes", "Done")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("no", "yes"):
            return queryset.filter(done_at__isnull=self.value() == "no")
        return queryset


@admin.register(CallbackRequest)
class CallbackRequestAdmin(PhoneSearchMixin, admin.ModelAdmin):
    """Messages the agent took for a call back: open ones first, newest first. What the caller left is a
    record (read-only); staff call back and mark it done."""

    list_display = ("created_at", "is_done", "phone", "customer", "short_message", "call_link")
    list_select_related = ("customer", "call")
    list_filter = (CallbackDoneFilter,)
    search_fields = ("customer__name", "message", "call_sid")
    phone_search_fields = ("phone",)
    ordering = (Case(When(done_at__isnull=True, then=Value(0)), default=Value(1)).asc(),  # type: ignore[assignment]
                "-created_at")  # open first (Django's admin takes expressions here; its stubs say only names)
    fields = ("created_at", "phone", "customer", "message", "call_link", "call_sid", "done_at", "done_by")
    readonly_fields = fields
    actions = ("mark_done",)

    @admin.display(description="Done", boolean=True)
    def is_done(self, obj: CallbackRequest) -> bool:
        return obj.done

    @admin.display(description="Message")
    def short_message(self, obj: CallbackRequest) -> str:
        return obj.message if len(obj.message) <= 80 else obj.message[:79] + "…"

    @admin.display(description="Call (transcript)")
    def call_link(self, obj: CallbackRequest) -> str:
        if obj.call_id is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:crm_calllog_change", args=[obj.call_id]),
                           obj.call_sid or obj.call_id)

    @admin.action(description="Mark done (called back)", permissions=["change"])
    def mark_done(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = callback_request_mark_done(callback_requests=queryset, user=request.user)
        self.message_user(request, f"{changed} callback request(s) marked done.")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
