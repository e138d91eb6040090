"""Messaging webhooks, mounted under /twilio/: the shop number's inbound texts and our texts' status."""

from django.urls import path

from texts import views

urlpatterns = [
    path("sms", views.text_received, name="text-received"),
    path("sms/<int:message_id>/status", views.text_status, name="text-status"),
]
