"""rewardkit.serving: an HTTP reward server (`rewardkit serve`) and its clients.

  config.py          ServeConfig (model, scoring, normalisation, server limits and batching)
  scorer.py          BatchScorer interface; ModelBatchScorer (rewardkit Scorer), FunctionBatchScorer (any callable)
  rendered.py        splitting rendered OpenRLHF queries into prompt and response
  normalization.py   z-normalisation: given, or measured on a calibration file
  batching.py        DynamicBatcher (asyncio queue + one scoring thread)
  security.py        body size limit, bearer-token auth
  app.py             create_app: the FastAPI application
  server.py          serve(): load + uvicorn
  client.py          RewardClient (httpx)
  reward_function.py RemoteRewardFunction (TRL reward function)

Modules are imported on use, so clients (client.py, reward_function.py) need neither torch nor FastAPI.
"""
