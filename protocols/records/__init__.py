"""The signed record envelope every device report travels in.

Will hold the COSE_Sign1 / Ed25519 envelope over deterministic CBOR described
in the architecture (fields ``v``, ``src``, ``epoch``, ``seq``, ``prev``, ``t``,
``tq``, ``kind``, ``body``), a versioned body schema per record kind, and strict
verification that names why a record was refused.
"""
