// Home page: open campaigns, straight to the grid; the list page has the details.
const list = document.getElementById("home-campaigns");
if (list) {
  const response = await fetch("/api/v1/campaigns/", { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.ok) {
    const body = await response.json();
    const campaigns = Array.isArray(body) ? body : (body.results ?? []);
    for (const c of campaigns.filter((c) => c.status === "active").slice(0, 6)) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `/campaigns/${c.id}/grid/`;
      a.textContent = c.name;
      li.append(a);
      list.append(li);
    }
  }
}
