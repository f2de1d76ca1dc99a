"""Science products: the object first, then its row with parameters and links to its inputs.

A product is keyed by where it is stored; a job run again replaces the row for the same key,
so a redelivered job leaves one row per product, not two.
"""
from __future__ import annotations

import hashlib
from typing import Iterable

from sqlalchemy import select

from master.models import Product, ProductInput

__all__ = ["CONTENT_TYPES", "store_product", "products_of_run", "products_of_capture"]

CONTENT_TYPES = {".fits": "application/fits", ".png": "image/png", ".csv": "text/csv", ".txt": "text/plain"}


def _content_type(key: str) -> str:
    return next((t for suffix, t in CONTENT_TYPES.items() if key.endswith(suffix)), "application/octet-stream")


def store_product(session, store, *, kind: str, key: str, data: bytes, parameters: dict,
                  frame_ids: Iterable[int] = (), ser_capture_ids: Iterable[int] = (),
                  photometry_run_id: int | None = None) -> Product:
    """Put ``data`` at ``key`` and add (or replace) its row; the caller commits."""
    store.put_bytes(key, data, _content_type(key))
    old = session.scalar(select(Product).where(Product.key == key))
    if old is not None:
        session.delete(old)
        session.flush()
    product = Product(kind=kind, key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                      parameters=parameters, photometry_run_id=photometry_run_id)
    product.inputs = ([ProductInput(frame_id=i) for i in frame_ids]
                      + [ProductInput(ser_capture_id=i) for i in ser_capture_ids])
    session.add(product)
    return product


def products_of_run(session, run_id: int) -> list[Product]:
    return list(session.scalars(select(Product).where(Product.photometry_run_id == run_id).order_by(Product.id)))


def products_of_capture(session, capture_id: int) -> list[Product]:
    query = (select(Product).join(ProductInput).where(ProductInput.ser_capture_id == capture_id)
             .order_by(Product.id))
    return list(session.scalars(query))
