"""The offline brain's phrase book: what callers' words mean, and how the brain says times back."""

from datetime import date, time

from voice.providers.offline_phrases import (
    is_no,
    is_yes,
    parse_day,
    parse_intent,
    parse_service,
    parse_time,
    parse_vehicle,
    spoken_cars,
    spoken_times,
    will_attend,
)

TODAY = date(2026, 11, 23)  # Monday
CARS = [{"vehicle_id": 7, "description": "2018 Honda Civic"}, {"vehicle_id": 8, "description": "2015 Ford Focus"}]


def test_parsers_understand_phone_phrasing() -> None:
    today = TODAY
    assert parse_service("I'd like an oil change") == "oil_change"
    assert parse_service("my brakes are squealing") == "brake_inspection"
    assert parse_day("tomorrow", today) == date(2026, 11, 24)
    assert parse_day("how about Friday", today) == date(2026, 11, 27)
    assert parse_day("November 30th", today) == date(2026, 11, 30)
    assert parse_day("January 5th", today) == date(2027, 1, 5)
    assert parse_time("at 10 am") == time(10, 0)
    assert parse_time("ten thirty") == time(10, 30)
    assert parse_time("2 pm") == time(14, 0)
    assert parse_time("at two") == time(14, 0)


def test_a_day_the_calendar_never_has_is_no_day() -> None:
    today = TODAY
    assert parse_day("February 30th", today) is None
    assert parse_day("November 31", today) is None
    assert parse_day("2026-02-30", today) is None
    assert parse_day("the 0th", today) is None
    assert parse_time("at 10:75") is None  # no such minute: the time is asked for again
    assert parse_day("February 29th", today) == date(2028, 2, 29)  # the next leap day


def test_every_service_name_the_shop_uses_reads_back_as_its_code() -> None:
    names = {"Oil change": "oil_change", "Brake inspection": "brake_inspection", "Brake pad replacement": "brake_pads",
             "Tire rotation": "tire_rotation", "Wheel alignment": "wheel_alignment",
             "Battery test and replacement": "battery", "A/C service": "ac_service",
             "Check-engine diagnostic": "diagnostic", "State inspection": "state_inspection",
             "Transmission fluid service": "transmission"}
    assert {name: parse_service(name) for name in names} == names


def test_yes_no_and_what_the_caller_wants() -> None:
    assert is_yes("Yeah, go ahead") and not is_yes("hmm")
    assert is_no("no, not Tuesday") and not is_no("sounds good")
    assert will_attend("I'll be there") and will_attend("yes")
    assert parse_intent("I need to cancel") == "cancel"
    assert parse_intent("can I move it to Friday") == "reschedule"
    assert parse_intent("my brakes squeal") == "book"
    assert parse_intent("uh") is None


def test_the_car_the_caller_names_is_the_one_picked() -> None:
    assert parse_vehicle(CARS, "the Ford") == CARS[1]
    assert parse_vehicle(CARS, "the 2018 one") == CARS[0]
    assert parse_vehicle(CARS, "the red one") is None


def test_times_and_cars_are_said_the_way_people_say_them() -> None:
    assert spoken_times(["09:00", "10:30", "14:00"]) == "9 AM, 10:30 AM or 2 PM"
    assert spoken_times(["09:00"]) == "9 AM"
    assert spoken_cars(CARS) == "I have your 2018 Honda Civic and 2015 Ford Focus."


def test_relative_days_as_callers_say_them() -> None:
    tuesday = date(2026, 12, 1)
    assert parse_day("the day after tomorrow", tuesday) == date(2026, 12, 3)  # Thursday, not Wednesday
    assert parse_day("day after tomorrow works", tuesday) == date(2026, 12, 3)
    assert parse_day("tomorrow", tuesday) == date(2026, 12, 2)
    assert parse_day("this Saturday", tuesday) == date(2026, 12, 5)
    assert parse_day("next Friday", tuesday) == date(2026, 12, 4)
    assert parse_day("next Tuesday", tuesday) == date(2026, 12, 8)  # said on a Tuesday: a week on
    assert parse_day("a week from today", tuesday) == date(2026, 12, 8)


def test_spoken_times_as_callers_say_them() -> None:
    assert parse_time("half past ten") == time(10, 30)
    assert parse_time("quarter past nine") == time(9, 15)
    assert parse_time("a quarter to four") == time(15, 45)
    assert parse_time("quarter to eleven") == time(10, 45)
    assert parse_time("noon") == time(12, 0)
    assert parse_time("at midday") == time(12, 0)
    assert parse_time("ten forty five") == time(10, 45)
    assert parse_time("3:30pm") == time(15, 30)
    assert parse_time("half ten") == time(10, 30)  # said the British way


def test_the_service_is_the_one_named_last_and_never_one_said_not_to_be() -> None:
    assert parse_service("No, an oil change, not brakes") == "oil_change"
    assert parse_service("not the brakes, the oil") == "oil_change"
    assert parse_service("I need brake pads, my brakes squeal") == "brake_pads"  # one line: its first service


def test_an_oil_change_on_a_day_is_a_booking_not_a_change_of_day() -> None:
    assert parse_intent("I'd like to book an oil change the day after tomorrow") == "book"
    assert parse_intent("can I change the day of my appointment") == "reschedule"


def test_a_weekday_named_on_that_weekday_is_a_week_on_unless_this_one() -> None:
    tuesday = date(2026, 12, 1)
    assert parse_day("oil change on Tuesday at ten please", tuesday) == date(2026, 12, 8)
    assert parse_day("this Tuesday", tuesday) == tuesday


def test_names_and_cars_as_new_callers_give_them() -> None:
    from voice.providers.offline_details import parse_car, parse_name

    assert parse_name("it's homer simpson") == "Homer Simpson"
    assert parse_name("My name is Marge.") == "Marge"
    assert parse_name("why do you need that") is None
    assert parse_car("a 2019 Honda Civic") == (2019, "Honda", "Civic")
    assert parse_car("twenty nineteen nissan leaf please") == (2019, "Nissan", "Leaf")
    assert parse_car("two thousand nine chevy silverado") == (2009, "Chevrolet", "Silverado")
    assert parse_car("an oh eight ford") == (None, "Ford", "")  # no year understood: asked again
    assert parse_car("nineteen ninety eight toyota camry") == (1998, "Toyota", "Camry")
