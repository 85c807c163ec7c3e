"""Nicknames derived from an agent's UUID (must match tinytown 0.10 for compatibility)."""

from __future__ import annotations

import uuid

_LIST_A = (
    "Robert", "John", "James", "William", "Charles", "George", "Joseph", "Richard", "Edward",
    "Donald", "Thomas", "Frank", "Harold", "Paul", "Raymond", "Walter", "Jack", "Henry",
    "Kenneth", "Arthur", "Albert", "David", "Harry", "Eugene", "Ralph", "Howard", "Carl",
    "Willie", "Louis", "Clarence", "Earl", "Roy", "Fred", "Joe", "Francis", "Lawrence",
    "Herbert", "Leonard", "Ernest", "Alfred", "Anthony", "Stanley", "Norman", "Gerald",
    "Daniel", "Samuel", "Bernard", "Billy", "Melvin", "Marvin", "Warren", "Michael", "Leroy",
    "Russell", "Leo", "Andrew", "Edwin", "Elmer", "Peter", "Floyd", "Lloyd", "Ray",
    "Frederick", "Theodore", "Clifford", "Vernon", "Herman", "Clyde", "Chester", "Philip",
    "Alvin", "Lester", "Wayne", "Vincent", "Gordon", "Leon", "Lewis", "Charlie", "Glenn",
    "Calvin", "Martin", "Milton", "Lee", "Jesse", "Dale", "Cecil", "Bill", "Harvey", "Roger",
    "Victor", "Benjamin", "Ronald", "Wallace", "Sam", "Allen", "Arnold", "Willard", "Gilbert",
    "Edgar", "Oscar", "Gene", "Jerry", "Douglas", "Johnnie", "Claude", "Don", "Eddie",
    "Roland", "Everett", "Maurice", "Curtis", "Marion", "Virgil", "Wilbur", "Manuel",
    "Stephen", "Jerome", "Homer", "Leslie", "Glen", "Jessie", "Hubert", "Jose", "Jimmie",
    "Sidney", "Morris", "Hugh", "Max", "Bobby", "Bob", "Nicholas", "Luther", "Bruce", "Junior",
    "Wesley", "Alexander", "Rudolph", "Franklin", "Tom", "Irving", "Horace", "Willis",
    "Patrick", "Steve", "Johnny", "Dean", "Julius", "Keith", "Oliver", "Earnest", "Ben", "Jim",
    "Tony", "Edmund", "Lyle", "Guy", "Salvatore", "Orville", "Delbert", "Billie", "Phillip",
    "Clayton", "Otis", "Archie", "Alex", "Angelo", "Mike", "Jacob", "Clifton", "Bennie",
    "Matthew", "Duane", "Clinton", "Dennis", "Wilbert", "Dan", "Jay", "Marshall", "Leland",
    "Merle", "Ira", "Nathaniel", "Ivan", "Ervin", "Jimmy", "Irvin", "Alton", "Lowell", "Larry",
    "Dewey", "Emil", "Antonio", "Wilfred", "Elbert", "Juan", "Alan", "Allan", "Lonnie",
    "Nelson", "Forrest",
)

_LIST_B = (
    "Mary", "Dorothy", "Helen", "Betty", "Margaret", "Ruth", "Virginia", "Doris", "Mildred",
    "Frances", "Elizabeth", "Evelyn", "Anna", "Alice", "Marie", "Jean", "Shirley", "Barbara",
    "Irene", "Marjorie", "Lois", "Florence", "Martha", "Rose", "Lillian", "Louise",
    "Catherine", "Ruby", "Patricia", "Eleanor", "Gladys", "Annie", "Josephine", "Thelma",
    "Edna", "Norma", "Pauline", "Lucille", "Gloria", "Edith", "Ethel", "Phyllis", "Grace",
    "Hazel", "June", "Bernice", "Marion", "Dolores", "Rita", "Lorraine", "Ann", "Esther",
    "Beatrice", "Juanita", "Geraldine", "Clara", "Jane", "Sarah", "Emma", "Joan", "Joyce",
    "Nancy", "Katherine", "Gertrude", "Elsie", "Julia", "Wilma", "Agnes", "Marian", "Bertha",
    "Eva", "Willie", "Audrey", "Theresa", "Vivian", "Wanda", "Laura", "Charlotte", "Ida",
    "Elaine", "Marilyn", "Anne", "Maxine", "Kathryn", "Kathleen", "Viola", "Pearl", "Vera",
    "Bessie", "Beverly", "Myrtle", "Alma", "Violet", "Nellie", "Ella", "Lillie", "Jessie",
    "Jeanne", "Eileen", "Ellen", "Lucy", "Minnie", "Sylvia", "Donna", "Rosemary", "Leona",
    "Stella", "Margie", "Mattie", "Genevieve", "Mabel", "Janet", "Bonnie", "Geneva", "Carol",
    "Georgia", "Carolyn", "Velma", "Lena", "Mae", "Maria", "Jennie", "Christine", "Peggy",
    "Arlene", "Marguerite", "Opal", "Sara", "Loretta", "Harriet", "Rosa", "Muriel", "Eunice",
    "Jeanette", "Blanche", "Carrie", "Emily", "Billie", "Beulah", "Dora", "Roberta", "Naomi",
    "Hilda", "Jacqueline", "Anita", "Alberta", "Inez", "Delores", "Fannie", "Hattie", "Lula",
    "Verna", "Cora", "Constance", "Madeline", "Miriam", "Ada", "Claire", "Mamie", "Lola",
    "Rosie", "Erma", "Rachel", "Mable", "Flora", "Daisy", "Sally", "Marcella", "Bette", "Olga",
    "Caroline", "Laverne", "Sophie", "Nora", "Rebecca", "Estelle", "Irma", "Susie", "Eula",
    "Winifred", "Eloise", "Janice", "Maggie", "Antoinette", "Imogene", "Nina", "Rosalie",
    "Lorene", "Olive", "Sadie", "Regina", "Victoria", "Henrietta", "Della", "Bettie", "Lila",
    "Faye", "Fern", "Johnnie", "Jeannette",
)


def nickname_for(agent_uuid: uuid.UUID) -> str:
    """``(first byte * 256 + second byte) % 400`` picks from list A (0-199) or B (200-399)."""
    index = int.from_bytes(agent_uuid.bytes[:2], "big") % 400
    return _LIST_A[index] if index < 200 else _LIST_B[index - 200]
