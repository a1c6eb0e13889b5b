-- wrk script: every request one of N stored URLs at random (PFX: the path prefix, N: how many; default 1000).
local prefix = os.getenv("PFX") or "/bench/hit-16384/"
local n = tonumber(os.getenv("N") or "1000")
request = function()
  return wrk.format(nil, prefix .. math.random(1, n))
end
