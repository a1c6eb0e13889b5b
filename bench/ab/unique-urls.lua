-- wrk script: every request a URL never asked before (PFX: the path prefix).
local counter = 0
local prefix = os.getenv("PFX") or "/bench/miss-262144/r"
request = function()
  counter = counter + 1
  return wrk.format(nil, prefix .. math.random(1,1e9) .. "-" .. counter)
end
