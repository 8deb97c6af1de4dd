"""IDX wire shapes: IntuitAccounts and IntuitTransactions of Codat-Intuit-IDX.yaml."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from app.kit.schemas import Wire

IntuitAccountType = Literal["deposit", "cashcard", "creditcard", "loan", "lineofcredit"]


def _none(value: Any) -> bool:
    return value is None


class Amount(Wire):
    currency: str
    amount: str = Field(description="Exact decimal as a string, e.g. -57.22")


class AccountDisplayInfo(Wire):
    displayName: str
    description: str | None = Field(default=None, exclude_if=_none)
    nickname: str | None = Field(default=None, exclude_if=_none)


class Balance(Wire):
    balanceAsOf: date
    availableBalance: Amount | None = Field(default=None, exclude_if=_none)
    currentBalance: Amount


class DepositAccountInfo(Wire):
    accountSubType: str
    depositBalance: Balance


class CashCardAccountInfo(Wire):
    accountSubType: str
    cashCardBalance: Balance


class CreditCardAccountInfo(Wire):
    accountSubType: str
    creditCardBalance: Balance


class LoanAccountInfo(Wire):
    accountSubType: str
    loanBalance: Amount


class BankRoutingInfo(Wire):
    id: str
    type: str


class AccountHolderInfo(Wire):
    holderType: str = "business"
    governmentIdDetails: str = "business"
    relationshipType: str = "business"


class IntuitAccount(Wire):
    id: str
    accountDisplayInfo: AccountDisplayInfo
    accountType: IntuitAccountType
    accountNumber: str
    primaryCurrency: str
    depositAccountInfo: DepositAccountInfo | None = None
    cashCardAccountInfo: CashCardAccountInfo | None = None
    creditCardAccountInfo: CreditCardAccountInfo | None = None
    lineOfCreditAccountInfo: dict[str, Any] | None = None
    loanAccountInfo: LoanAccountInfo | None = None
    lineOfBusiness: Literal["business"] = "business"
    accountOpenDate: date | None = Field(default=None, exclude_if=_none)
    bankRoutingInfo: list[BankRoutingInfo] = Field(default_factory=list)
    accountHolderInfo: AccountHolderInfo = Field(default_factory=AccountHolderInfo)
    status: Literal["open"] = "open"
    modifiedDate: datetime | None = Field(default=None, exclude_if=_none)


class IdxPage(Wire):
    pageNumber: int
    pageSize: int
    totalResults: int


class IntuitAccounts(IdxPage):
    results: list[IntuitAccount]


class IntuitTransaction(Wire):
    transactionId: str
    accountId: str
    accountType: IntuitAccountType
    transactionDate: date
    postedDate: date
    fundsAvailableDate: date
    transactionDescription: str
    payeeName: str | None = Field(default=None, exclude_if=_none)
    referenceNumber: str | None = None
    amount: Amount
    transactionValueType: Literal["CREDIT", "DEBIT"]
    transactionMutability: bool = False
    status: Literal["POSTED"] = "POSTED"
    depositTransactionInfo: dict[str, str] | None = None
    cashCardTransactionInfo: dict[str, str] | None = None
    creditCardTransactionInfo: dict[str, str] | None = None
    lineOfCreditTransactionInfo: dict[str, str] | None = None
    loanTransactionInfo: dict[str, str] | None = None
    modifiedDate: datetime


class IntuitTransactions(IdxPage):
    results: list[IntuitTransaction]


class IdxPageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    page: int = Field(
        default=1,
        ge=1,
        le=2**31 - 1,
        validation_alias=AliasChoices("page", "pageNumber"),
        description="Page number, from 1 (also accepted as pageNumber).",
    )
    pageSize: int = Field(default=100, ge=1, le=2000, description="Records per page, ≤ 2000.")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.pageSize


class TransactionsQuery(IdxPageQuery):
    # QuickBooks reads transactions in pages of up to 5,000 (the IDX spec's pageSize parameter).
    pageSize: int = Field(default=100, ge=1, le=5000, description="Records per page, ≤ 5000.")
    startDate: date | datetime | None = Field(
        default=None,
        description="modifiedDate from (inclusive), YYYY-MM-DD read Anywhere on Earth "
        "(the date D starts at D 12:00Z), or a date-time.",
    )
    endDate: date | datetime | None = Field(
        default=None,
        description="modifiedDate up to (exclusive), YYYY-MM-DD read Anywhere on Earth "
        "(the window ends at endDate 12:00Z), or a date-time.",
    )

    @field_validator("startDate", "endDate", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value
