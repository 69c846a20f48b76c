"""The shop layer: a shop's own tables (orders, events, products, customers, queries) in, a
purchase or ranking model out, through the same engine as any table.

``tables`` (each table checked against its schema), ``load`` (a folder of files or DataFrames
to :class:`~automl_guide.shop.history.ShopData`), ``history`` (what was known at a cutoff: the
candidates, the labels, the training table), ``evaluate`` (ranking metrics and the shop
leaderboards), ``snapshot`` (the serving side: :class:`~automl_guide.shop.snapshot.Recommender`),
``run`` (:func:`~automl_guide.shop.run.fit_shop`, the whole run) and ``demo`` (a generated shop).
"""
