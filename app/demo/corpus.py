"""The demo's comment corpus: NPS verbatims about a fictional B2B suite.

The suite has four products: Ledger (finance and invoicing), Pulse (dashboards and analytics),
Atlas (project and resource planning, with a mobile app for field teams) and Relay (workflow
automation and integrations). Each comment carries the tone of the score it belongs with, the
topics of ``data/topics.json`` it is meant to be about (tests check the tagger finds them) and,
for the demo's story, whether it reacts to the price change or to the 3.0 release.
"""

from __future__ import annotations

from dataclasses import dataclass

PROMOTER = "promoter"
PASSIVE = "passive"
DETRACTOR = "detractor"
TONES = (PROMOTER, PASSIVE, DETRACTOR)

PRICE_CHANGE = "price_change"
RELEASE = "release"
STORIES = (PRICE_CHANGE, RELEASE)


@dataclass(frozen=True)
class DemoComment:
    """One canned verbatim: its text, the tone of its score, its topics and its story."""

    text: str
    tone: str
    topics: tuple[str, ...] = ()
    story: str | None = None


# Topic names as in data/topics.json; short aliases keep the tables below readable.
PRI, BIL, SUP, EAS = "Pricing", "Billing", "Support", "Ease of use"
PER, REL, FEA, ONB = "Performance", "Reliability", "Features", "Onboarding"
INT, MOB, DOC, REP = "Integrations", "Mobile app", "Documentation", "Reporting"

_Rows = tuple[tuple[tuple[str, ...], str], ...]

_PROMOTERS: _Rows = (
    ((PRI,), "Best value for money we've found for a team our size."),
    ((PRI, REP), "Pulse replaced two tools we were paying for separately, so our total cost is "
                 "lower. And the dashboards are better."),
    ((PRI,), "Fair pricing and no surprise fees. Rare these days."),
    ((PRI,), "worth the money, easily"),
    ((PRI, SUP), "The nonprofit discount is the only reason we could afford Ledger, and support "
                 "still treats us like a big account."),
    ((PRI,), "Our finance lead ran the numbers: Atlas paid back its license cost in under four "
             "months."),
    ((PRI, FEA), "Per seat pricing is reasonable and the Team tier already has every feature we "
                 "need."),
    ((PRI,), "Cheaper than the tool we used before and honestly better."),
    ((PRI,), "Clear pricing page, no sales call needed to get a quote. Appreciated!"),
    ((PRI,), "Pricing is transparent and it scales sensibly as we add seats."),
    ((PRI,), "Affordable for a startup and doesn't feel like a starter tool."),
    ((PRI, FEA), "For the price you get more features than tools at twice the cost."),
    ((BIL,), "Billing is painless, invoices arrive on the 1st with our PO number on them."),
    ((BIL,), "Switching from monthly to annual billing took two minutes and the proration was "
             "correct to the cent."),
    ((BIL, SUP), "Got a refund for unused licences within a day of asking support. No argument."),
    ((BIL,), "Invoices finally include the VAT details our accountant needs."),
    ((BIL,), "love that I can update the credit card myself without emailing anyone"),
    ((BIL,), "Billing is simple and predictable, which our finance team loves."),
    ((BIL,), "Receipts land in the shared finance inbox automatically. Small thing, big help."),
    ((SUP, INT), "Maria in support fixed our SSO in 20 minutes. On a Friday evening."),
    ((SUP,), "Support is outstanding. Real humans who know the product."),
    ((SUP,), "Every ticket I've opened got a useful answer the same day."),
    ((SUP,), "great support, always"),
    ((SUP,), "Our CSM Tom checks in every month and actually knows how we use Atlas."),
    ((SUP,), "On live chat someone usually answers in under two minutes."),
    ((SUP, REL), "Reported a bug on Tuesday, support escalated it and the fix shipped Thursday. "
                 "Impressive."),
    ((SUP,), "Priya from customer success basically became part of our team during year end."),
    ((SUP,), "Support got back to me within the hour with a workaround, then followed up the "
             "next day."),
    ((SUP,), "helpdesk folks are patient even with my dumb questions lol"),
    ((SUP, ONB), "Our account manager organised extra training for the new hires at no charge."),
    ((SUP, FEA), "Kenji on the support team walked me through a tricky permissions issue step by "
                 "step."),
    ((SUP, INT), "Luca from support stayed on a call past the end of his shift to get our import "
                 "working."),
    ((SUP,), "Tickets are answered by people who clearly use the product themselves."),
    ((SUP,), "Best customer service of any SaaS vendor we work with, by a mile."),
    ((SUP,), "Dev from the support team found the root cause of our data mismatch in an hour."),
    ((SUP,), "The agent on live chat solved it while I was still typing my second message."),
    ((SUP, BIL), "Support sorted out a billing mix-up for us in one email."),
    ((SUP,), "Quick, knowledgeable support every single time."),
    ((SUP,), "support team is realy good, definately recommend"),
    ((EAS,), "So easy to use that our ops team never needed help."),
    ((EAS,), "Intuitive and clean."),
    ((EAS,), "The interface is clean and everything is where you'd expect it."),
    ((EAS,), "Finally a tool my non-technical colleagues can use. Learning curve of about a day."),
    ((EAS,), "Atlas is just straightforward. Drag, drop, done."),
    ((EAS,), "The new navigation is much better, found the audit settings in two clicks."),
    ((EAS,), "UI is clean, not cluttered like the last tool we had"),
    ((EAS,), "user friendly even for our warehouse guys who hate computers"),
    ((EAS, REP), "Building a dashboard in Pulse is easy enough that managers do it themselves."),
    ((EAS,), "Relay's workflow builder is the most intuitive I have used."),
    ((EAS, ONB), "Really intuitive, our interns figured it out without any training."),
    ((EAS,), "Everything is two clicks away. Love it!"),
    ((EAS,), "My team actually enjoys using it, the interface just makes sense."),
    ((EAS,), "alot easier than the old system"),
    ((EAS, ONB), "Straightforward to set up and to use."),
    ((PER,), "Fast. Just fast."),
    ((PER, REP), "Reports that took minutes in our old system show up in a second or two. It's "
                 "fast."),
    ((PER,), "Search is snappy even with ten years of data in there."),
    ((PER,), "no lag at all, even on the hotel wifi"),
    ((PER,), "Performance has been excellent since we moved to the EU region."),
    ((PER,), "Large project plans in Atlas open fast, even with thousands of tasks."),
    ((PER,), "Snappy and responsive, unlike most enterprise software."),
    ((PER,), "super fast, love it"),
    ((REL,), "Rock solid. Can't remember a minute of downtime this year."),
    ((REL,), "Reliable, which is the only thing I care about at month end close."),
    ((REL,), "Zero crashes since we gave it to 300 users."),
    ((REL, SUP), "When there was an outage in March they posted updates every 15 minutes and "
                 "support sent us a full incident write-up."),
    ((REL,), "Uptime has been great, our payroll runs never fail."),
    ((REL,), "It simply works, every day. No glitches, no drama."),
    ((REL, INT), "API uptime has been flawless for two years."),
    ((REL,), "In three years I remember one outage, and it was fixed within the hour."),
    ((FEA,), "The approval workflow feature alone is worth it."),
    ((FEA,), "Custom fields let us model our weird contract structure without hacks."),
    ((FEA, REP), "Scheduled exports plus the new forecast feature replaced a spreadsheet that "
                 "three people maintained."),
    ((FEA,), "They actually ship what's on the roadmap. Dark mode landed exactly when promised!"),
    ((FEA,), "Bulk edit saved me hours this week"),
    ((FEA,), "Templates for recurring projects are a huge time saver."),
    ((FEA,), "role based permissions are exactly what our auditors wanted"),
    ((FEA,), "The audit log is thorough, our SOC 2 auditor was happy."),
    ((FEA,), "Relay automation rules handle about 80% of our routing now. Great feature set."),
    ((FEA,), "The approval chains fit our crazy org structure. Love this feature."),
    ((FEA,), "would love more of these small quality of life features, the recent ones are great"),
    ((FEA,), "They listen. Three of our feature requests shipped this year."),
    ((FEA,), "Template library saved us weeks of designing our own processes."),
    ((FEA, MOB), "Offline forms in the mobile app were the feature that sold us."),
    ((ONB,), "Onboarding was the smoothest I've experienced. We went live in a week."),
    ((ONB, SUP), "Implementation was excellent. Fatima from customer success kept us on schedule "
                 "and answered everything."),
    ((ONB, INT), "Migration from our old tool was painless, they imported six years of history "
                 "for us."),
    ((ONB,), "the kickoff call set clear expectations and they met all of them"),
    ((ONB, EAS), "Setup took an afternoon. Easy."),
    ((ONB,), "The free trial was long enough to actually test it with real data."),
    ((ONB,), "Training sessions were practical, not just slides."),
    ((ONB,), "Went live two weeks ahead of plan."),
    ((ONB,), "onboarding checklist made the first week really manageable"),
    ((ONB,), "We migrated 40 users over a weekend with zero drama."),
    ((ONB,), "Onboarding specialist was brilliant and very patient with our IT people."),
    ((ONB, SUP, INT), "We moved 14 regional offices onto Atlas in six weeks. Fatima from customer "
                      "success ran the kickoff, set up SSO with our IT team and checked in every "
                      "Friday until we went live. Best rollout I've been part of."),
    ((INT,), "The API is clean and well designed, built our sync in a weekend."),
    ((INT, REP), "Relay connects our CRM to Pulse dashboards with no code, always in sync."),
    ((INT, REL), "Webhooks are reliable and the retry logic is sensible."),
    ((INT, ONB), "SAML SSO set up in 10 minutes with our identity provider."),
    ((INT,), "integrates with everything we use"),
    ((INT,), "The ERP connector saved us from building a custom integration."),
    ((INT,), "SCIM provisioning works perfectly, offboarding is automatic now."),
    ((INT,), "Two-way sync with our CRM is flawless."),
    ((INT,), "Hooked Relay up to our data warehouse through the API in an afternoon."),
    ((INT, FEA), "The integration library keeps growing and the automation builder is a joy."),
    ((MOB,), "The mobile app is great for approvals on the go."),
    ((MOB,), "Our techs in the field love the offline mode in Atlas."),
    ((MOB,), "Can approve expenses from my phone in the taxi. Game changer."),
    ((MOB,), "tablet version works well on the shop floor"),
    ((MOB,), "Push notifications are actually useful, not spammy."),
    ((MOB,), "I run my whole day from the mobile app."),
    ((MOB,), "The phone app lets our regional managers check numbers between store visits."),
    ((MOB, EAS), "Mobile app is as easy as the web version, which is rare."),
    ((DOC,), "The documentation is excellent, with clear examples for every endpoint."),
    ((DOC, INT), "API docs are the best I've worked with. Copy, paste, it works."),
    ((DOC,), "Their help center answered my question before I needed to ask anyone."),
    ((DOC, ONB), "The short tutorial videos are perfect for onboarding new staff."),
    ((DOC,), "release notes are clear and tell me what actually changed"),
    ((DOC,), "The knowledge base is up to date and searchable."),
    ((DOC, ONB), "The getting started guide plus the video walkthrough had us running in a day."),
    ((DOC,), "really good docs"),
    ((DOC,), "Clear docs, clear changelog, no surprises."),
    ((DOC, INT), "Webhook docs are excellent, with sample payloads for every event."),
    ((REP,), "Pulse dashboards are on the big screen in our office all day."),
    ((REP,), "Finally reporting that our exec team actually reads."),
    ((REP,), "The drill down from region to individual account is brilliant."),
    ((REP,), "Love the new charts, very clear"),
    ((REP,), "Exporting to CSV or PDF just works."),
    ((REP,), "KPI tracking in Pulse replaced our monthly board deck prep."),
    ((REP,), "The breakdown by segment showed us where churn was coming from."),
    ((REP,), "Insights tab surfaces things I would never have looked for."),
    ((REP,), "We run our weekly ops review straight from the Pulse dashboard now"),
    ((REP,), "Scheduled reports land in inboxes at 7am, nobody builds them by hand anymore."),
    ((REP,), "analytics are top notch"),
    ((REP,), "forecast view in Ledger is spot on, CFO uses it every week"),
    ((REP, FEA), "Custom dashboards per team is a killer feature for us."),
    ((REP,), "the PDF export of the board pack looks professional out of the box"),
    ((REP,), "Pivot tables inside Pulse mean I stopped copying data into spreadsheets."),
    ((REP, EAS), "I'm not a data person and I built our weekly KPI dashboard myself in Pulse in an "
                 "afternoon, it's that easy. Sales, churn and pipeline on one screen. My boss "
                 "thought we'd hired an analyst."),
    ((REL, SUP), "We had a nasty incident in payroll week when a sync job failed halfway. Their "
                 "support team joined a call within minutes, explained exactly what happened, "
                 "fixed the data and sent a written follow-up. That's how you keep customers."),
    ((SUP, EAS), "Easy to use and the support is great. What more do you want."),
    ((EAS, REP, PRI), "Clean UI, great dashboards, fair price."),
    ((REL, PER), "Fast and reliable, it just gets out of the way."),
    ((FEA, EAS), "Powerful features without being complicated."),
    ((SUP, DOC), "Between the docs and the support team we never get stuck."),
    ((ONB, SUP), "Great onboarding, great support, great product"),
    ((REP, PER), "Dashboards refresh fast even with a lot of data."),
    ((EAS, FEA), "Easiest tool we use and it has every feature we need."),
    ((), "Great product, keep it up."),
    ((), "Does exactly what it says. Would recommend to anyone."),
    ((), "Ledger has made our finance team's life so much better."),
    ((), "10/10 would recommend"),
    ((), "Can't imagine running our agency without Atlas now."),
)

_PASSIVES: _Rows = (
    ((PRI,), "Good tool, a bit pricey for what we use."),
    ((SUP,), "Support is helpful but hard to reach on weekends."),
    ((EAS,), "The interface takes some getting used to, but it's fine once you learn it."),
    ((PER,), "Mostly fine, occasionally slow in the afternoons."),
    ((FEA,), "Does the job. Missing a couple of features we had in our previous tool."),
    ((REP,), "Reports are OK but I still export to a spreadsheet to do anything serious."),
    ((MOB,), "The mobile app is basic compared to desktop."),
    ((DOC,), "Docs are decent but some screenshots are from the old UI."),
    ((INT,), "Integrations cover the basics. Would like a proper ERP connector."),
    ((ONB,), "Onboarding was OK, a bit rushed."),
    ((REL,), "A few bugs here and there but nothing blocking."),
    ((BIL,), "Invoices are fine but I wish we could add our PO number ourselves."),
    ((EAS,), "ok. some menus are confusing"),
    ((FEA,), "Solid core product, the roadmap moves at a glacial pace."),
    ((REP,), "Dashboards look nice, but I can't drill down far enough."),
    ((SUP,), "Support answers eventually."),
    ((PER,), "Speed is acceptable. Not amazing."),
    ((FEA, EAS), "Powerful but complicated. Half of the features we never use."),
    ((INT,), "API is fine, rate limits are a bit tight for our nightly sync."),
    ((MOB,), "No offline mode in the mobile app yet, which matters for our site crews."),
    ((DOC,), "Documentation exists but it's hard to find the right article."),
    ((ONB,), "setup was fine, took longer than the sales team promised"),
    ((PRI,), "The cost is fine for now, we'll see at renewal."),
    ((REL,), "Stable most of the time, had a couple of outages last quarter."),
    ((EAS,), "Navigation could be simpler, too many clicks to approve something."),
    ((REP,), "would like more chart types"),
    ((FEA,), "We like it. Would be nice to have custom fields on tasks."),
    ((SUP,), "Ticket response times vary a lot depending on who picks it up."),
    ((BIL, EAS), "Billing portal is clunky but works."),
    ((PER, REP), "Pulse is a bit sluggish with large dashboards but usable."),
    ((INT,), "The CRM integration works but field mapping is limited."),
    ((ONB, DOC), "Training was good, the written guides less so."),
    ((MOB,), "App is ok on the phone, crowded on a small screen."),
    ((FEA,), "Good enough. Lacks some of the automation we need."),
    ((DOC,), "the video tutorials are too long, just show me the steps"),
    ((REL, INT), "One sync failure lost us a day of data. Resolved, but it made us nervous."),
    ((EAS,), "The UI is dated but functional."),
    ((PRI,), "Fairly priced, not cheap."),
    ((SUP,), "Our CSM changed three times in a year. Each one was nice though."),
    ((REP,), "CSV export works, PDF export formatting is a bit off."),
    ((FEA,), "Good product. Still waiting on dark mode like everyone else."),
    ((PER,), "Searching across projects is slow but everything else is quick."),
    ((INT,), "Webhooks occasionally arrive out of order, we built around it."),
    ((ONB,), "Migration took longer than planned because of our data, not really your fault."),
    ((MOB,), "push notifications are too noisy, had to turn them off"),
    ((DOC,), "Some help articles are out of date since the redesign."),
    ((BIL,), "We got charged for deactivated users once. Fixed after I asked."),
    ((EAS,), "It does a lot, which means the interface is a bit cluttered."),
    ((REP,), "Reporting covers 80% of what we need, the other 20% goes through exports."),
    ((SUP, DOC), "I'd rather have better docs than open a ticket for every question."),
    ((PRI,), "Reasonable price for the core plan, the add-ons add up quickly."),
    ((REL, PER), "Mostly reliable. The Monday morning slowdowns are annoying."),
    ((FEA,), "missing recurring tasks, otherwise fine"),
    ((ONB, INT), "The trial didn't give us enough time to test the integrations."),
    ((INT,), "SSO works, but SCIM is only on the top plan."),
    ((EAS,), "learning curve is steeper than it should be"),
    ((MOB,), "The tablet layout wastes a lot of space."),
    ((REP,), "Dashboards are nice to look at, metric definitions are unclear though."),
    ((SUP,), "support team is friendly, fixes take a while"),
    ((PER,), "Performance is fine for us, heard others complain though."),
    ((DOC,), "The API reference is good, the guides for admins are thin."),
    ((BIL, FEA), "Would be nice to get invoices split by department."),
    ((FEA,), "Permissions model is too coarse for a company our size."),
    ((REL,), "Occasional glitches with notifications."),
    ((ONB, DOC), "onboarding videos helped, but our admins still needed a lot of hand holding"),
    ((INT,), "Third party connectors are hit and miss."),
    ((EAS,), "Fine once you know where things are. The menu structure is confusing at first."),
    ((REP, FEA), "Would love scheduled reports per team instead of per user."),
    ((PRI, FEA), "Decent features for the price, nothing special."),
    ((SUP,), "Chat support is fine for simple questions, not for anything technical."),
    ((MOB,), "mobile is ok"),
    ((DOC,), "Release notes are vague. Tell us what changed!"),
    ((PER,), "A bit laggy on older laptops."),
    ((REL, INT), "We hit an error importing a large file, had to split it."),
    ((EAS,), "It's easy enough, just not as polished as it could be."),
    ((FEA, INT), "Solid, though we would love a native integration with our HR system."),
    ((REP,), "reporting is ok but teh export formatting is weird"),
    ((REP, FEA), "Pulse does most of what we need. The dashboards are good and scheduled reports "
                 "save time, but features like cohorts or comparing two date ranges side by "
                 "side are missing, so the analysts keep a separate tool around."),
    ((MOB, FEA), "The mobile app is fine for checking status, but our technicians need to attach "
                 "photos and sign off work orders in the field, and right now that waits until "
                 "they're back at a laptop. Close, but the feature set isn't there yet."),
    ((), "It's fine. Does what we need."),
    ((), "No strong feelings either way."),
    ((), "Good, not great."),
)

_DETRACTORS: _Rows = (
    ((REP, PER), "The CSV export times out on anything over 50k rows. We've reported it three "
                 "times."),
    ((SUP,), "Support takes days to answer and then asks questions already in the ticket."),
    ((REL,), "Crashes every time I open a large project."),
    ((PER,), "So slow. Everything takes forever."),
    ((BIL,), "We were double charged in May and it took six weeks to get a refund."),
    ((EAS,), "The UI is confusing and my team keeps making mistakes because of it."),
    ((MOB,), "Mobile app is basically unusable, logs me out constantly."),
    ((INT, REL), "The CRM sync fails every few days and nobody can tell us why."),
    ((DOC,), "Documentation is outdated and half the screenshots show screens that don't exist "
             "anymore."),
    ((ONB,), "Onboarding was a mess, three different people and nobody owned it."),
    ((FEA, BIL), "Missing basic features like recurring invoices. How is this not there?"),
    ((REL,), "Third outage this month. We cannot run payroll on something this unreliable."),
    ((PER, REP), "Dashboards show a spinner for 30 seconds before anything appears. Useless in a "
                 "meeting."),
    ((SUP,), "customer service is a joke"),
    ((PRI,), "Way too expensive for what it does."),
    ((EAS,), "Clunky, dated, too many clicks for simple things."),
    ((INT,), "API rate limits make it impossible to do a proper initial sync."),
    ((REL, SUP, INT), "Lost data after a failed import and support's answer was 'restore from "
                      "your backup'."),
    ((BIL,), "Billing is a nightmare. Invoices go to the wrong contact no matter how often we "
             "change it."),
    ((FEA,), "Still no audit log. Our compliance team is not amused."),
    ((MOB,), "The app store version is months behind the web app."),
    ((DOC,), "docs are useless"),
    ((PER,), "the lag when typing in comments is unbearable"),
    ((ONB,), "Implementation took four months instead of the promised six weeks."),
    ((SUP,), "Our account manager left and nobody told us. Three emails unanswered."),
    ((REP,), "Reporting is weak, can't even filter a dashboard by date range properly."),
    ((REL,), "Buggy. Every update breaks something else."),
    ((EAS,), "The new interface moved everything around without warning."),
    ((INT, REL), "SSO broke after your update and we were locked out for a morning."),
    ((PRI, SUP), "Expensive, and support never answers."),
    ((FEA,), "Feature requests go into a black hole."),
    ((MOB,), "No proper tablet layout, so our crews carry laptops around."),
    ((PER,), "Search is painfully slow once you have more than a few thousand records."),
    ((BIL,), "Charged for 50 users when we have 20. Still waiting on the refund."),
    ((REL, INT), "The sync freezes at 99% and we have to restart it."),
    ((DOC, INT), "There is no documentation for the webhooks beyond a list of event names."),
    ((EAS,), "way too complicated for what should be a simple tool"),
    ((SUP,), "Support closed my ticket without fixing anything. Twice."),
    ((REP,), "Numbers on the dashboard don't match the export. Which one do I trust?"),
    ((ONB,), "Nobody trained our admins, we figured it all out ourselves."),
    ((REL,), "Error 500 every other morning."),
    ((PER,), "Atlas crawls when more than ten people are in the same plan."),
    ((INT, DOC), "Your API docs say one thing, the API does another."),
    ((MOB, REL), "mobile app crashes on launch since the last update"),
    ((FEA,), "We lack basic permissions control, everyone sees everything."),
    ((BIL,), "Subscription auto renewed without the reminder email we were promised."),
    ((SUP,), "Been waiting 9 days for someone to get back to me."),
    ((PRI,), "Charging per seat for read-only users is absurd."),
    ((EAS,), "Can never find anything. Navigation is a maze."),
    ((REL, REP), "Reports fail silently and we only notice when numbers look wrong."),
    ((PER, REP), "the Pulse dashboard is so slow my execs gave up on it"),
    ((ONB, FEA), "Migration tool dropped half our custom fields."),
    ((DOC,), "Help center articles contradict each other."),
    ((SUP,), "Chat bot first, then a human reading a script. That's not support."),
    ((REL,), "Unstable. Had to refresh the page constantly all week."),
    ((FEA,), "The features we actually need have been 'on the roadmap' for two years."),
    ((INT,), "Webhooks drop events under load and there's no way to replay them."),
    ((BIL,), "A payment bounced on your side and you suspended our account anyway."),
    ((EAS,), "Unintuitive from start to finish"),
    ((MOB, FEA), "Half the features are missing on mobile."),
    ((PER, REP), "Timeouts all day on the reports page."),
    ((REP,), "Can't export a single chart without the whole page. Come on."),
    ((ONB,), "The onboarding consultant didn't know the product better than we did."),
    ((SUP, REL), "Outage on Monday and no status updates from support until Wednesday."),
    ((PRI,), "Paying enterprise prices for a product that feels like a beta."),
    ((DOC, FEA), "no docs for the new features"),
    ((REL,), "Data loss twice this year. Not acceptable for finance software."),
    ((EAS, FEA), "Customizing anything is convoluted and needs an admin."),
    ((INT, REL), "Import fails on any file with accented names. Basic stuff."),
    ((SUP,), "your helpdesk keeps asking me to repeat things I already described"),
    ((PER,), "Loading spinners everywhere. This should be faster by now."),
    ((REL,), "It froze during our quarter close. Worst possible timing."),
    ((MOB,), "The phone app doesn't show attachments. Pointless."),
    ((REP,), "Analytics module is an afterthought."),
    ((BIL,), "Three invoices for one month, none of them correct."),
    ((EAS,), "honestly the worst UX of any tool we use"),
    ((ONB, BIL), "Signup asked for a credit card before the trial even started."),
    ((SUP,), "Support is outsourced and it shows."),
    ((REL, PER), "Slow and buggy since you moved us to the new servers."),
    ((INT,), "The ERP integration duplicates records every night."),
    ((DOC,), "Had to learn everything from a random forum because the docs skip the hard parts."),
    ((PRI,), "We pay for 100 licenses and can't reassign them when people leave."),
    ((REP,), "graphs are wrong when you switch time zones"),
    ((FEA,), "Templates can't be edited after they're used, which makes them pointless."),
    ((EAS,), "Too many menus, too many settings, too many clicks."),
    ((REL, INT), "Every Monday some integration is down again."),
    ((SUP,), "Escalated three times, still no fix."),
    ((MOB, REL), "Can't even approve a request from mobile without it crashing."),
    ((BIL,), "recieved 2 invoices for the same month and nobody can explain why"),
    ((PER,), "its sooo slow today"),
    ((REP, PER, SUP), "The CSV export times out on anything over 50k rows, which is every "
                      "month-end file we have. Support says it's a known issue and to split the "
                      "file, so someone spends half a day stitching spreadsheets back together."),
    ((BIL, SUP), "We cancelled the subscription for one team in January, got charged for "
                 "February and March anyway, and each ticket was closed with 'passed to "
                 "billing'. Nobody owns the problem and I'm tired of chasing our own money."),
    ((ONB, DOC, FEA), "Our rollout stalled for a month because the implementation guide assumes "
                      "you already understand the permission model. We reverse engineered it "
                      "from help articles and a lot of guesswork."),
    ((), "Not for us anymore."),
    ((), "Disappointed. Expected a lot more."),
    ((), "meh, it's ok"),
)

# The demo's story: a price change costs goodwill, then the 3.0 release wins it back.
_PRICE_CHANGE_DETRACTORS: _Rows = (
    ((PRI,), "A 30% price increase with four weeks notice is not how you treat a loyal customer."),
    ((PRI, BIL), "The new pricing doubled our bill for the same features."),
    ((PRI,), "Price hike at renewal. We are evaluating alternatives."),
    ((PRI,), "you raised prices and moved features we use to a higher tier. not ok"),
    ((PRI,), "Paying more for the same product. The new Business tier is just the old plan "
                 "with a higher price tag."),
    ((PRI, BIL), "The per seat price went up 25% and nobody warned us. Found out from the "
                 "invoice."),
    ((PRI,), "too expensive now"),
    ((PRI, SUP), "Asked our account manager to explain the price change and got a copy-paste "
                 "email. Disappointing."),
    ((PRI,), "Our budget for next year didn't account for this. Seriously considering cutting "
             "seats."),
    ((PRI,), "We loved Atlas but at the new price it no longer makes sense for a team of 12."),
    ((PRI,), "Overpriced since the change in pricing. Hard to justify to my CFO."),
    ((PRI,), "Cost went up, value didn't."),
    ((PRI, BIL), "Renewal quote came in 40% higher and the billing team couldn't tell us why."),
    ((PRI,), "Dropping the annual discount feels like a bait and switch."),
    ((PRI,), "Cancelling at renewal. The new licensing model makes no sense for seasonal staff."),
)

_PRICE_CHANGE_PASSIVES: _Rows = (
    ((PRI,), "Still a good product, but the price increase stings."),
    ((PRI,), "Not thrilled about the new pricing. We'll stay for now."),
    ((PRI,), "Would have been a 9 before the price change."),
    ((PRI, SUP), "The pricing change was handled badly, though our CSM did get us a one year "
                 "discount."),
    ((PRI,), "fine product. more expensive than last year for no obvious reason"),
    ((PRI,), "Happy with the product, less happy with the new per seat price."),
)

_RELEASE_PROMOTERS: _Rows = (
    ((PER, REP), "Since the 3.0 release dashboards load instantly. Night and day."),
    ((PER,), "Whatever you did in 3.0, keep doing it. Everything is so much faster."),
    ((PER, REP), "The new release fixed the slow reports that were driving us mad."),
    ((PER,), "3.0 is fast. Like, really fast. Our team noticed on day one."),
    ((PER, REL), "Since the upgrade to 3.0 no more timeouts and no more crashes on big projects."),
    ((PER, REP), "Exports that used to time out finish in seconds now, the speed difference in "
                 "3.0 is huge."),
    ((PER, EAS), "New version is faster and the cleaner interface makes it easier too."),
    ((PER,), "was about to cancel over the slowness, 3.0 changed my mind"),
    ((PER, MOB), "The mobile app after the 3.0 update is snappy, finally."),
    ((PER, REP), "Pulse charts render instantly since the release. The wall display in our "
                 "office no longer shows a spinner."),
    ((PER, SUP), "Support told us 3.0 would fix our performance issues and it did. Trust "
                 "restored."),
    ((PER, INT), "API latency dropped by half after the 3.0 release, our sync jobs finish in a "
                 "fraction of the time."),
    ((PER,), "speed improvements in the latest release are massive"),
    ((PER, REP), "Month-end reporting used to take all morning. With 3.0 it's fast enough that "
                 "we run it live in the meeting."),
)

_RELEASE_PASSIVES: _Rows = (
    ((PER, PRI), "3.0 is much faster, which helps, but I'm still not happy about the price "
                 "increase."),
    ((PER, FEA), "Faster since 3.0, good. Still missing the bulk edit we asked for."),
    ((PER,), "The release made things faster, now please fix search."),
    ((PER,), "3.0 feels snappier. Let's see if it lasts."),
)


def _tag_rows(rows: _Rows, tone: str, story: str | None = None) -> tuple[DemoComment, ...]:
    return tuple(DemoComment(text, tone, topics, story) for topics, text in rows)


COMMENTS: tuple[DemoComment, ...] = (
    _tag_rows(_PROMOTERS, PROMOTER)
    + _tag_rows(_PASSIVES, PASSIVE)
    + _tag_rows(_DETRACTORS, DETRACTOR)
    + _tag_rows(_PRICE_CHANGE_DETRACTORS, DETRACTOR, PRICE_CHANGE)
    + _tag_rows(_PRICE_CHANGE_PASSIVES, PASSIVE, PRICE_CHANGE)
    + _tag_rows(_RELEASE_PROMOTERS, PROMOTER, RELEASE)
    + _tag_rows(_RELEASE_PASSIVES, PASSIVE, RELEASE)
)


def select_comments(tone: str, story: str | None = None) -> tuple[DemoComment, ...]:
    """The comments of one tone and story (None: the ordinary, story-free ones)."""
    return tuple(c for c in COMMENTS if c.tone == tone and c.story == story)
