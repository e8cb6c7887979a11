-- wrk script for benchmarks/bench_intake.py: POST /comments with a distinct, realistic JSON
-- comment on every request, and a count of the answers by HTTP status.
--
--   wrk -t2 -c16 -d20s --latency -s benchmarks/intake.lua http://127.0.0.1:PORT/comments \
--       -- RUNID [SLOT] [TOKENDIR]
--
-- Every request gets a unique email and a unique text (thread number and a per-thread counter,
-- plus RUNID when given), so the duplicate rule (409) never fires, and comes from its own
-- reader's address (X-Forwarded-For 10.<SLOT*4+thread>.x.y, for a server behind one proxy), so
-- neither the per-address rate limit nor the flood rule refuses it; give each run within 15 s of
-- another its own SLOT (0..60). With TOKENDIR, each thread reads form tokens from
-- TOKENDIR/tokens-<thread>.txt (one per line, as the form page hands them out) and posts one
-- with each comment, as a browser does; a thread that runs out posts without. Texts are a mix of civil,
-- spammy and abusive replies; article ids are spread over a few articles. At the end, done()
-- prints lines the benchmark parses:
--   intake.lua status <code> <count>     answers by status, summed over threads
--   intake.lua sent <n>                  requests written
--   intake.lua answered <n>              responses read (sent - answered were still in flight
--                                        when the run ended, or lost to socket errors)

local threads = {}
local next_thread_id = 1

function setup(thread)
   thread:set("thread_id", next_thread_id)
   next_thread_id = next_thread_id + 1
   table.insert(threads, thread)
end

local articles = {
   "2025/11/city-budget-vote",
   "2025/11/rail-strike-talks",
   "2025/11/school-meals-report",
   "2025/11/derby-match-report",
   "2025/11/heatwave-warning",
}

local first_names = {
   "Anna", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
   "Kiran", "Lena", "Marco", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Sam", "Tomasz",
}
local last_names = {
   "Martin", "Okafor", "Schmidt", "Dubois", "Rossi", "Nowak", "Silva", "Khan", "Larsen", "Byrne",
}
local mail_domains = { "example.com", "example.org", "mail.example.net", "example.co.uk" }

-- %s is replaced by a short unique detail so no two texts are the same.
local civil = {
   "I disagree with the council on this one, but the article sets out both sides fairly. %s",
   "Thanks for the clear explanation of the numbers. Could you add how this compares with last year? %s",
   "My daughter's school already tried this and it worked well for the younger pupils. %s",
   "The trains on my line have been late all week, so I understand why people are frustrated. %s",
   "Good match report. The second half was much better than the first and the keeper saved us. %s",
   "Please remember to check on elderly neighbours during the heat, it really makes a difference. %s",
   "I think the minister has a point, although the timing of the announcement was poor. %s",
   "Does anyone know whether the consultation is still open? I would like to send a response. %s",
   "Interesting piece. The figures in the third paragraph do not match the chart, though. %s",
   "We went to the public meeting last night and most people seemed in favour of the plan. %s",
}
local spammy = {
   "Great post! Buy cheap v1agra and cialis online, no prescription, fast shipping at https://pills.example.xyz/deal %s",
   "Make $5000 a week working from home!!! Click here https://easy-money.example.top and start today %s",
   "Best crypto investment of 2025, 300%% returns guaranteed, visit https://coin-boost.example.click now %s",
   "Hot singles in your area want to meet you tonight, free registration at https://dating.example.xyz %s",
   "Cheap replica watches and designer bags, huge discount, order now https://bags.example.shop %s",
}
local abusive = {
   "You are a complete idiot and so is everyone who voted for this rubbish. %s",
   "Shut up you stupid moron, nobody cares about your pathetic opinion. %s",
   "What a f4cking disgrace, the writer of this garbage should be sacked, useless id10t. %s",
   "Go back under your rock you worthless troll, you are too dumb to read. %s",
}

local user_agents = {
   "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
   "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
   "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
}

local function json_string(s)
   s = s:gsub('[%c"\\]', function(c)
      if c == '"' then
         return '\\"'
      elseif c == "\\" then
         return "\\\\"
      elseif c == "\n" then
         return "\\n"
      end
      return string.format("\\u%04x", c:byte())
   end)
   return '"' .. s .. '"'
end

local function pick(list, n)
   return list[(n % #list) + 1]
end

function init(args)
   run_id = args[1] or tostring(os.time())
   slot = tonumber(args[2] or "0")
   tokens = {}
   if args[3] then
      local file = io.open(string.format("%s/tokens-%d.txt", args[3], thread_id), "r")
      if file then
         for line in file:lines() do
            table.insert(tokens, line)
         end
         file:close()
      end
   end
   counter = 0
   sent = 0
   answered = 0
   statuses = {}
end

function request()
   counter = counter + 1
   sent = sent + 1
   local n = counter
   local tag = string.format("(%s-%d-%d)", run_id, thread_id, n)
   local first = pick(first_names, n * 7 + thread_id)
   local last = pick(last_names, n * 3 + thread_id)
   local kind = n % 10 -- 7 in 10 civil, 2 spammy, 1 abusive
   local text, url, email
   email = string.format(
      "%s.%s.%s.t%d.%d@%s", first:lower(), last:lower(), run_id, thread_id, n,
      pick(mail_domains, n))
   url = ""
   if kind == 7 or kind == 8 then
      text = string.format(pick(spammy, n), tag)
      url = "https://deals.example.xyz/" .. n
      email = string.format("promo.%s.t%d.%d@offers.example.xyz", run_id, thread_id, n)
   elseif kind == 9 then
      text = string.format(pick(abusive, n), tag)
   else
      text = string.format(pick(civil, n + thread_id), "Reader note " .. tag)
   end
   local token = ""
   if tokens[n] then
      token = ',"form_token":' .. json_string(tokens[n])
   end
   local body = "{"
      .. '"article_id":' .. json_string(pick(articles, n + thread_id)) .. ","
      .. '"author":' .. json_string(first .. " " .. last) .. ","
      .. '"email":' .. json_string(email) .. ","
      .. '"url":' .. json_string(url) .. ","
      .. '"content":' .. json_string(text)
      .. token
      .. "}"
   local address = string.format(
      "10.%d.%d.%d", slot * 4 + thread_id, math.floor(n / 256) % 256, n % 256)
   return wrk.format("POST", nil, {
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json",
      ["User-Agent"] = pick(user_agents, n),
      ["X-Forwarded-For"] = address,
   }, body)
end

function response(status, headers, body)
   answered = answered + 1
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local totals = {}
   local total_sent, total_answered = 0, 0
   for _, thread in ipairs(threads) do
      total_sent = total_sent + (thread:get("sent") or 0)
      total_answered = total_answered + (thread:get("answered") or 0)
      for code, count in pairs(thread:get("statuses") or {}) do
         totals[code] = (totals[code] or 0) + count
      end
   end
   local codes = {}
   for code in pairs(totals) do
      table.insert(codes, code)
   end
   table.sort(codes)
   for _, code in ipairs(codes) do
      io.write(string.format("intake.lua status %d %d\n", code, totals[code]))
   end
   -- wrk calls request() once on the first thread to check the script before the run starts;
   -- that request is never sent.
   total_sent = total_sent - 1
   io.write(string.format("intake.lua sent %d\n", total_sent))
   io.write(string.format("intake.lua answered %d\n", total_answered))
end
