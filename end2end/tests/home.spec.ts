import { expect, test } from './support';

test('the home page shows the packages, styled and hydrated', async ({ page }) => {
  await page.goto('/');
  // Hydration sets this marker from an effect: the wasm loaded and ran.
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();

  const cards = page.locator('#packages article');
  await expect(cards).toHaveCount(4);
  await expect(cards.nth(0)).toContainText('Starter Pack');
  await expect(cards.nth(0)).toContainText('$10.00');
  await expect(cards.nth(2)).toContainText('Popular');
  await expect(cards.nth(3)).toContainText('Save 30%');

  // Tailwind's stylesheet is served and applied: cards are white on a slate page.
  const background = await cards.nth(0).evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(background).toBe('rgb(255, 255, 255)');

});
