"""Synthetic but realistic traffic for `mlmon demo`.

A few hundred NSE/BSE tickers, a rule-verdict mix like a screener's, an ML model that runs
on most stocks, agrees with the rules about two times in three, and is trusted for the
final verdict when it is confident enough. Trade outcomes follow later for part of the
predictions; the ML verdict predicts them somewhat better than the rules do.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo

from producer_sdk import Outcome, Prediction, TradeOutcome, Verdict, VerdictSource

NSE_SYMBOLS = """
RELIANCE TCS HDFCBANK INFY ICICIBANK HINDUNILVR ITC SBIN BHARTIARTL KOTAKBANK LT AXISBANK
ASIANPAINT MARUTI SUNPHARMA TITAN BAJFINANCE ULTRACEMCO NESTLEIND WIPRO HCLTECH TECHM
POWERGRID NTPC ONGC COALINDIA TATASTEEL JSWSTEEL HINDALCO ADANIENT ADANIPORTS GRASIM
DIVISLAB DRREDDY CIPLA APOLLOHOSP BAJAJFINSV BAJAJ-AUTO HEROMOTOCO EICHERMOT M&M
TATAMOTORS BRITANNIA TATACONSUM INDUSINDBK SBILIFE HDFCLIFE UPL BPCL IOC GAIL VEDL
SHREECEM DABUR GODREJCP PIDILITIND BERGEPAINT HAVELLS SIEMENS ABB BOSCHLTD MOTHERSON
AMBUJACEM ACC DLF GODREJPROP OBEROIRLTY LODHA PNB BANKBARODA CANBK UNIONBANK IDFCFIRSTB
FEDERALBNK BANDHANBNK AUBANK YESBANK CHOLAFIN MUTHOOTFIN SHRIRAMFIN LICHSGFIN PFC RECLTD
IRCTC IRFC HAL BEL BHEL SAIL NMDC JINDALSTEL TATAPOWER ADANIGREEN ADANIPOWER TORNTPOWER
LUPIN AUROPHARMA BIOCON ALKEM TORNTPHARM ZYDUSLIFE GLENMARK IPCALAB LAURUSLABS MAXHEALTH
FORTIS NAUKRI ZOMATO PAYTM NYKAA POLICYBZR DMART TRENT PAGEIND JUBLFOOD VBL UBL MCDOWELL-N
COLPAL MARICO EMAMILTD TATACHEM PIIND SRF AARTIIND DEEPAKNTR NAVINFLUOR ATUL COROMANDEL
CHAMBLFERT ASHOKLEY TVSMOTOR ESCORTS BALKRISIND MRF APOLLOTYRE CEATLTD EXIDEIND AMARAJABAT
MPHASIS LTIM PERSISTENT COFORGE LTTS OFSS TATAELXSI KPITTECH CYIENT ZENSARTECH SONACOMS
INDIGO CONCOR GMRINFRA IRB POLYCAB KEI DIXON VOLTAS BLUESTARCO WHIRLPOOL CROMPTON
ASTRAL SUPREMEIND KAJARIACER CUMMINSIND THERMAX AIAENG SKFINDIA TIMKEN GRINDWELL
INDHOTEL EIHOTEL LEMONTREE PVRINOX SUNTV ZEEL NETWORK18 HATHWAY IDEA INDUSTOWER TATACOMM
MANAPPURAM IIFL ANGELONE CDSL BSE MCX CAMS KFINTECH HDFCAMC NAM-INDIA ICICIGI ICICIPRULI
STARHEALTH MFSL SBICARD PEL ABCAPITAL LICI GICRE NIACL JIOFIN
""".split()
BSE_LISTED = NSE_SYMBOLS[:80]
TICKERS = [f"{s}.NS" for s in NSE_SYMBOLS] + [f"{s}.BO" for s in BSE_LISTED]

VERDICTS = list(Verdict)
RULE_MIX = (0.15, 0.30, 0.35, 0.20)  # strong_buy, buy, watch, avoid
ML_RUN_RATE = 0.92
ML_AGREES_RATE = 0.66
ML_TRUST_CONFIDENCE = 0.62
MODEL_VERSION = "demo-v1"


BULLISH = {Verdict.STRONG_BUY, Verdict.BUY}
OUTCOME_SHARE = 0.4
JOIN_BY_ID_SHARE = 0.7


def synthetic_outcomes(
    predictions: list[Prediction], *, zone: tzinfo, seed: int = 7, now: datetime | None = None
) -> Iterator[TradeOutcome]:
    """Outcomes for about 40 % of `predictions`: most joined by prediction_id, the rest
    by ticker and date with their verdicts, as the original system recorded them."""
    rng = random.Random(seed + 1)
    now = now or datetime.now(UTC)
    for prediction in predictions:
        if rng.random() >= OUTCOME_SHARE:
            continue
        profit_chance = 0.3 + 0.1 * (prediction.rule_verdict in BULLISH)
        if prediction.ml_verdict is not None:
            profit_chance += 0.25 * (prediction.ml_verdict in BULLISH)
        if prediction.features:  # the features tell the truth, for the model to learn
            profit_chance = 0.5 + 0.4 * math.tanh(_feature_score(prediction.features, rng))
        if rng.random() < 0.1:
            outcome, pnl_pct = Outcome.NEUTRAL, rng.uniform(-0.5, 0.5)
        elif rng.random() < profit_chance:
            outcome, pnl_pct = Outcome.PROFIT, rng.uniform(0.5, 3.0 + 9.0 * profit_chance)
        else:
            outcome, pnl_pct = Outcome.LOSS, -rng.uniform(0.5, 8.0)
        by_id = rng.random() < JOIN_BY_ID_SHARE
        yield TradeOutcome(
            ts=now,
            prediction_id=prediction.event_id if by_id else None,
            ticker=prediction.ticker,
            prediction_date=prediction.ts.astimezone(zone).date(),
            ml_verdict=None if by_id else prediction.ml_verdict,
            rule_verdict=None if by_id else prediction.rule_verdict,
            final_verdict=None if by_id else prediction.final_verdict,
            actual_outcome=outcome,
            pnl_pct=round(pnl_pct, 2),
            holding_days=rng.randint(1, 15),
        )


def _feature_score(features: dict[str, float], rng: random.Random) -> float:
    """Momentum up and RSI low are good signs; plus noise."""
    return features["momentum_20d_pct"] / 6 + (50 - features["rsi_14"]) / 40 + rng.gauss(0, 0.3)


def synthetic_features(rng: random.Random, *, degraded: bool = False) -> dict[str, float]:
    """Three features the model uses and two it is monitored on. When `degraded`, the
    data vendor reports volume ratios in percent (100 times the scale) and drops the VWAP
    gap from 40 % of the rows, as a broken feed does."""
    features = {
        "rsi_14": round(rng.uniform(15, 85), 2),
        "pe_ratio": round(rng.uniform(5, 80), 2),
        "momentum_20d_pct": round(rng.gauss(0.5, 6), 2),
        "volume_ratio": round(rng.lognormvariate(0.1, 0.4) * (100 if degraded else 1), 3),
        "vwap_gap_pct": round(rng.gauss(0, 1.5), 3),
    }
    if degraded and rng.random() < 0.4:
        del features["vwap_gap_pct"]
    return features


def label_for_score(score: float) -> str:
    """The verdict a synthetic score earns: bands one unit wide around zero."""
    return "strong_buy" if score > 1 else "buy" if score > 0 else "watch" if score > -1 else "avoid"


def synthetic_training_csv(rows: int, *, seed: int = 7) -> str:
    """A starting training set whose labels follow the features (columns sorted, as the
    feedback group writes them)."""
    rng = random.Random(seed + 2)
    lines = ["momentum_20d_pct,pe_ratio,rsi_14,label"]
    for _ in range(rows):
        features = synthetic_features(rng)
        label = label_for_score(_feature_score(features, rng))
        values = (features["momentum_20d_pct"], features["pe_ratio"], features["rsi_14"])
        lines.append(",".join(str(v) for v in values) + f",{label}")
    return "\n".join(lines) + "\n"


def synthetic_predictions(
    count: int,
    *,
    seed: int = 7,
    now: datetime | None = None,
    spread: timedelta = timedelta(days=3),
    degraded: bool = False,
) -> Iterator[Prediction]:
    """`count` predictions with timestamps spread over the `spread` before `now`, in order.
    A `degraded` model is less sure of itself and agrees with the rules less often, and
    its inputs change (`synthetic_features`)."""
    rng = random.Random(seed)
    agrees_rate, confidence_shape = (0.3, (4.0, 3.5)) if degraded else (ML_AGREES_RATE, (8.0, 2.2))
    now = now or datetime.now(UTC)
    start = now - spread
    for i in range(count):
        ts = start + spread * ((i + rng.random()) / count)
        rule = rng.choices(VERDICTS, weights=RULE_MIX)[0]
        ml_verdict: Verdict | None = None
        confidence: float | None = None
        source = VerdictSource.RULE
        if rng.random() < ML_RUN_RATE:
            ml_verdict = rule if rng.random() < agrees_rate else rng.choice(VERDICTS)
            confidence = round(min(0.99, max(0.35, rng.betavariate(*confidence_shape))), 4)
            if confidence >= ML_TRUST_CONFIDENCE:
                source = VerdictSource.ML
        features = synthetic_features(rng, degraded=degraded) if rng.random() < 0.3 else None
        yield Prediction(
            ticker=rng.choice(TICKERS),
            ts=ts,
            ml_verdict=ml_verdict,
            ml_confidence=confidence,
            rule_verdict=rule,
            final_verdict=ml_verdict if source is VerdictSource.ML and ml_verdict else rule,
            verdict_source=source,
            features=features,
            model_version=MODEL_VERSION if ml_verdict else None,
        )
