"""Money the way a person says it on the phone (dates and times: `scheduling.spoken`)."""

from decimal import Decimal


def spoken_price(amount: Decimal) -> str:
    dollars, cents = divmod(int(amount * 100), 100)
    return f"{dollars} dollars" + (f" and {cents} cents" if cents else "")
